"""Configuration: one object, read from the environment and checked all at once when a handler
starts (`Settings.from_environment`), then handed to the composition root (`wxcomponent.bootstrap`).
This is the only module that reads the environment. Names and meanings: docs/architecture.md.

The component's credentials are the one part read lazily: they may live in the Secrets Manager
secret named by `COMPONENT_SECRET_ID`, fetched through Powertools parameters and cached for
`SECRET_MAX_AGE` seconds, so a rotated secret is picked up without a redeploy.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from wxcomponent.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# ruff: noqa: PLC0415 - Powertools' parameters are imported where the secret is read: a function that
# never reads it (a vend from the table) never pays for them at cold start (docs/BENCHMARKS.md)

SECRET_MAX_AGE = 300
SECRETS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
DEFAULT_API_BASE = "https://api.weixin.qq.com"
# WeChat's disaster-recovery host, "when the host above cannot be reached" (its API domain page;
# docs/protocol.md §9). A base on one of WeChat's hosts falls back to the general host and this one.
DR_API_BASE = "https://api2.weixin.qq.com"
_WECHAT_API_HOST = re.compile(r"https://([a-z]{2}\.)?api2?\.weixin\.qq\.com")
DEFAULT_MP_BASE = "https://mp.weixin.qq.com"
DEFAULT_OPEN_BASE = "https://open.weixin.qq.com"
DEFAULT_PRODUCT_NAME = "wxcomponent"
# Bounds shared with template.yaml's parameters (a test holds them equal).
REFRESH_MARGIN = (120, 3600, 20 * 60)  # min, max, default seconds
REFRESH_PARALLELISM = (1, 64, 8)

# environment name -> key in the secret's JSON
_COMPONENT_FIELDS = {
    "WECHAT_COMPONENT_APPID": "component_appid",
    "WECHAT_COMPONENT_APPSECRET": "component_appsecret",
    "WECHAT_COMPONENT_TOKEN": "token",
    "WECHAT_COMPONENT_AES_KEY": "encoding_aes_key",
    "WECHAT_COMPONENT_PREVIOUS_AES_KEY": "previous_encoding_aes_key",
    "WECHAT_AUTHORIZED_REDIRECT_KEY": "authorized_redirect_key",
}
_OPTIONAL = {"previous_encoding_aes_key", "component_appsecret", "authorized_redirect_key"}
_TABLE_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_BUS_RE = re.compile(r"[A-Za-z0-9._/:-]{1,1600}")  # a bus name, or its ARN
_URL_RE = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_REDIRECT_RE = re.compile(r"https?://[^\s/?#]+[^\s#]*")  # may carry a query of the vendor's
_NUMBER_RE = re.compile(r"[0-9]{1,6}")
_DOOR_RE = re.compile(r"[A-Za-z0-9-]{8,64}")  # the stack's id in AWS (a UUID); a fixed word locally
# The logo goes into the pages' <img> and their Content-Security-Policy: https only, a plain host
# (no user info, nothing that could end a header or an attribute), bounded.
LOGO_URL_MAX = 1024
_LOGO_RE = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[^\s\"'<>\\`]*")
# A function's name, or its ARN (partition, region, account, name, and an optional version or alias).
_FUNCTION_RE = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?"
)


@dataclass(frozen=True)
class ComponentSettings:
    component_appid: str
    component_appsecret: str
    token: str
    encoding_aes_key: str
    previous_encoding_aes_key: str = ""
    authorized_redirect_key: str = ""  # signs the redirect to the vendor's page (domain/binding.py)

    def __repr__(self) -> str:  # never let a secret reach a log through a repr
        return f"ComponentSettings(component_appid={self.component_appid!r}, secrets=<redacted>)"


@dataclass(frozen=True)
class Settings:
    """Every setting of every function, validated. Frozen and hashable: the composition root is
    cached per distinct `Settings`, so a container builds its object graph once."""

    table_name: str
    event_bus_name: str
    component_secret_id: str = ""
    api_base: str = DEFAULT_API_BASE
    # Tried in order when `api_base` cannot be connected to (adapters/wechat_http.py).
    api_fallbacks: tuple[str, ...] = ()
    # The stack's `WhitelistIps`: logged beside the address WeChat saw when it answers 61004/40164.
    whitelist_ips: tuple[str, ...] = ()
    mp_base: str = DEFAULT_MP_BASE
    open_base: str = DEFAULT_OPEN_BASE
    refresh_margin: int = REFRESH_MARGIN[2]
    refresh_parallelism: int = REFRESH_PARALLELISM[2]
    product_name: str = DEFAULT_PRODUCT_NAME
    authorized_redirect_url: str = ""
    public_base_url: str = ""
    logo_url: str = ""  # the vendor's logo on the merchant's pages
    message_reply_function: str = ""
    tasks_function: str = ""  # where work after the answer goes from a function that cannot run it
    caller_policy: str = ""  # JSON, parsed where it is used (wxcomponent.services.caller_policy)
    # The HTTP API stage's `tokens_door` variable: an event to token_vending is `POST /tokens` only
    # when it carries this; anything else is a direct Invoke (functions/token_vending/app.py).
    tokens_door: str = field(default="", repr=False)
    # The component's values given directly (local runs, tests): environment name -> value.
    component_values: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads and checks every setting; one `ConfigurationError` names every problem (never a
        value: a value may be a secret)."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def text(name: str, pattern: re.Pattern[str] | None = None, *, required: bool = False) -> str:
            value = env.get(name, "").strip()
            if not value:
                if required:
                    problems.append(f"{name} is not set")
                return ""
            if pattern is not None and not pattern.fullmatch(value):
                problems.append(f"{name} is malformed")
            return value

        def number(name: str, bounds: tuple[int, int, int]) -> int:
            low, high, default = bounds
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not _NUMBER_RE.fullmatch(raw) or not low <= int(raw) <= high:
                problems.append(f"{name} must be a whole number of {low}..{high}")
                return default
            return int(raw)

        def logo(name: str) -> str:
            value = env.get(name, "").strip()
            if value and (len(value) > LOGO_URL_MAX or not _LOGO_RE.fullmatch(value)):
                problems.append(f"{name} must be an https URL (https://host/path) of at most {LOGO_URL_MAX} characters")
            return value

        mp_base = text("WECHAT_MP_BASE", _URL_RE) or DEFAULT_MP_BASE
        api_base = (text("WECHAT_API_BASE", _URL_RE) or DEFAULT_API_BASE).rstrip("/")
        settings = cls(
            table_name=text("TABLE_NAME", _TABLE_RE, required=True),
            event_bus_name=text("EVENT_BUS_NAME", _BUS_RE, required=True),
            component_secret_id=text("COMPONENT_SECRET_ID"),
            api_base=api_base,
            api_fallbacks=_urls(env, "WECHAT_API_FALLBACKS", default_api_fallbacks(api_base), problems),
            whitelist_ips=_addresses(env, "WHITELIST_IPS", problems),
            mp_base=mp_base.rstrip("/"),
            open_base=(text("WECHAT_OPEN_BASE", _URL_RE) or _open_base(mp_base)).rstrip("/"),
            refresh_margin=number("REFRESH_MARGIN_SECONDS", REFRESH_MARGIN),
            refresh_parallelism=number("REFRESH_PARALLELISM", REFRESH_PARALLELISM),
            product_name=text("PRODUCT_NAME") or DEFAULT_PRODUCT_NAME,
            authorized_redirect_url=text("AUTHORIZED_REDIRECT_URL", _REDIRECT_RE),
            public_base_url=text("PUBLIC_BASE_URL", _URL_RE).rstrip("/"),
            logo_url=logo("LOGO_URL"),
            message_reply_function=text("MESSAGE_REPLY_FUNCTION_ARN", _FUNCTION_RE),
            tasks_function=text("TASKS_FUNCTION", _FUNCTION_RE),
            caller_policy=env.get("CALLER_POLICY", "").strip(),
            tokens_door=text("TOKENS_DOOR", _DOOR_RE),
            component_values=tuple((name, env.get(name, "")) for name in _COMPONENT_FIELDS if env.get(name)),
        )
        if problems:
            raise ConfigurationError("invalid settings: " + "; ".join(problems))
        return settings

    def component(self) -> ComponentSettings:
        """The component's appid, secret, token and AES keys: given directly first, then the secret.
        Read when first needed, never at the door: the secret may be unreachable for a moment."""
        given = dict(self.component_values)
        values = {key: given.get(name, "") for name, key in _COMPONENT_FIELDS.items()}
        required_missing = [k for k, v in values.items() if not v and k not in _OPTIONAL]
        if required_missing or not values["component_appsecret"]:
            secret = self.secret()
            for key, value in values.items():
                if not value and isinstance(secret.get(key), str):
                    values[key] = secret[key]
        missing = [k for k, v in values.items() if not v and k not in _OPTIONAL]
        if missing:
            raise ConfigurationError(f"component settings missing: {', '.join(sorted(missing))}")
        return ComponentSettings(**values)

    def secret(self) -> dict[str, Any]:
        """The component secret's JSON ({} when no secret is configured), cached SECRET_MAX_AGE."""
        if not self.component_secret_id:
            return {}
        from aws_lambda_powertools.utilities import parameters

        try:
            value = _secrets_provider().get(self.component_secret_id, transform="json", max_age=SECRET_MAX_AGE)
        except parameters.exceptions.TransformParameterError as exc:
            raise ConfigurationError("the component secret is not a JSON object") from exc
        except parameters.exceptions.GetParameterError as exc:
            raise ConfigurationError("the component secret could not be read") from exc
        if not isinstance(value, dict):
            raise ConfigurationError("the component secret is not a JSON object")
        return value


def _urls(env: Mapping[str, str], name: str, default: tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    """Base URLs separated by commas; unset, `default`; `none`, none."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw == "none":
        return ()
    values = tuple(value.strip().rstrip("/") for value in raw.split(","))
    if not all(_URL_RE.fullmatch(value) for value in values):
        problems.append(f"{name} must be base URLs separated by commas, or none")
    return values


def _addresses(env: Mapping[str, str], name: str, problems: list[str]) -> tuple[str, ...]:
    """IP addresses separated by commas (none when unset)."""
    values = tuple(value.strip() for value in env.get(name, "").split(",") if value.strip())
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            problems.append(f"{name} must be IP addresses separated by commas")
            break
    return values


def default_api_fallbacks(api_base: str) -> tuple[str, ...]:
    """Where to go when `api_base` cannot be reached: for one of WeChat's hosts (the general one,
    a regional one, the disaster-recovery one), the general host then the disaster-recovery host;
    for anything else (the sandbox, a proxy of the vendor's), nowhere unless configured."""
    if not _WECHAT_API_HOST.fullmatch(api_base.rstrip("/")):
        return ()
    return tuple(base for base in (DEFAULT_API_BASE, DR_API_BASE) if base != api_base.rstrip("/"))


def _open_base(mp_base: str) -> str:
    """The mobile authorization page's host. WeChat serves it from open.weixin.qq.com; when
    `WECHAT_MP_BASE` points elsewhere (the sandbox), the mobile page is there too."""
    return mp_base if mp_base != DEFAULT_MP_BASE else DEFAULT_OPEN_BASE


def reset_caches() -> None:
    """Forget cached secrets (tests; a rotation is picked up by the cache's age anyway)."""
    from aws_lambda_powertools.utilities import parameters

    _secrets_provider.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@functools.cache
def _secrets_provider() -> SecretsProvider:
    """Created on first use (never at import), with a bound on every call like all our clients. Its
    client comes from boto3's default session, which the table's client shares: Powertools would
    otherwise make a session of its own, and a second session loads botocore's data files again
    (some 80 ms of CPU at every cold start; docs/BENCHMARKS.md)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=boto3.client("secretsmanager", config=SECRETS_CLIENT_CONFIG))
