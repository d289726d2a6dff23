"""Configuration, read lazily and validated in one place (docs/architecture.md, Configuration).

The four component values come from the environment when set there (local runs, tests), else from
the Secrets Manager secret named by `COMPONENT_SECRET_ID`, fetched through Powertools parameters and
cached for `SECRET_MAX_AGE` seconds so a rotated secret is picked up without a redeploy.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from wxcomponent.errors import ConfigurationError

SECRET_MAX_AGE = 300
SECRETS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
DEFAULT_API_BASE = "https://api.weixin.qq.com"
DEFAULT_MP_BASE = "https://mp.weixin.qq.com"
DEFAULT_OPEN_BASE = "https://open.weixin.qq.com"
DEFAULT_REFRESH_MARGIN = 20 * 60

# environment name -> key in the secret's JSON
_COMPONENT_FIELDS = {
    "WECHAT_COMPONENT_APPID": "component_appid",
    "WECHAT_COMPONENT_APPSECRET": "component_appsecret",
    "WECHAT_COMPONENT_TOKEN": "token",
    "WECHAT_COMPONENT_AES_KEY": "encoding_aes_key",
    "WECHAT_COMPONENT_PREVIOUS_AES_KEY": "previous_encoding_aes_key",
}
_OPTIONAL = {"previous_encoding_aes_key", "component_appsecret"}


@dataclass(frozen=True)
class ComponentSettings:
    component_appid: str
    component_appsecret: str
    token: str
    encoding_aes_key: str
    previous_encoding_aes_key: str = ""

    def __repr__(self) -> str:  # never let a secret reach a log through a repr
        return f"ComponentSettings(component_appid={self.component_appid!r}, secrets=<redacted>)"


def table_name() -> str:
    name = os.environ.get("TABLE_NAME", "")
    if not name:
        raise ConfigurationError("TABLE_NAME is not set")
    return name


def api_base() -> str:
    return os.environ.get("WECHAT_API_BASE") or DEFAULT_API_BASE


def mp_base() -> str:
    return os.environ.get("WECHAT_MP_BASE") or DEFAULT_MP_BASE


def open_base() -> str:
    """The mobile authorization page's host. WeChat serves it from open.weixin.qq.com; when
    `WECHAT_MP_BASE` points elsewhere (the sandbox), the mobile page is there too."""
    explicit = os.environ.get("WECHAT_OPEN_BASE") or ""
    if explicit:
        return explicit
    mp = os.environ.get("WECHAT_MP_BASE") or ""
    return mp if mp and mp != DEFAULT_MP_BASE else DEFAULT_OPEN_BASE


def refresh_margin() -> int:
    """Seconds before expiry at which the refresher renews a token (default 20 minutes)."""
    raw = os.environ.get("REFRESH_MARGIN_SECONDS", "")
    if not raw:
        return DEFAULT_REFRESH_MARGIN
    if not raw.isdigit() or not 60 <= int(raw) <= 3600:
        raise ConfigurationError("REFRESH_MARGIN_SECONDS must be 60..3600")
    return int(raw)


def refresh_parallelism() -> int:
    """How many authorizers the refresher renews at once (default 8)."""
    raw = os.environ.get("REFRESH_PARALLELISM", "")
    if not raw:
        return 8
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigurationError("REFRESH_PARALLELISM must be 1..64")
    return int(raw)


def product_name() -> str:
    """The vendor's product, named on the authorization pages."""
    return os.environ.get("PRODUCT_NAME") or "wxcomponent"


def authorized_redirect_url() -> str:
    """Optional vendor page to send the admin to after authorizing (with `authorizer_appid`)."""
    return os.environ.get("AUTHORIZED_REDIRECT_URL", "")


def public_base_url() -> str:
    """Our own origin as browsers see it, when it is not the API's domain (a custom domain behind
    a proxy, or the local gateway). Empty: use the request's own domain over https."""
    return os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")


# A function's name, or its ARN (partition, region, account, name, and an optional version or alias).
_FUNCTION_RE = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?"
)


def message_reply_function() -> str:
    """The vendor's optional reply function (`MESSAGE_REPLY_FUNCTION_ARN`); "" when none."""
    value = os.environ.get("MESSAGE_REPLY_FUNCTION_ARN", "")
    if value and not _FUNCTION_RE.fullmatch(value):
        raise ConfigurationError("MESSAGE_REPLY_FUNCTION_ARN must be a Lambda function's ARN or name")
    return value


def component_settings() -> ComponentSettings:
    """The component's appid, secret, token and AES keys: environment first, then the secret."""
    values = {key: os.environ.get(env, "") for env, key in _COMPONENT_FIELDS.items()}
    required_missing = [k for k, v in values.items() if not v and k not in _OPTIONAL]
    if required_missing or not values["component_appsecret"]:
        secret = _read_secret()
        for key, value in values.items():
            if not value and isinstance(secret.get(key), str):
                values[key] = secret[key]
    missing = [k for k, v in values.items() if not v and k not in _OPTIONAL]
    if missing:
        raise ConfigurationError(f"component settings missing: {', '.join(sorted(missing))}")
    return ComponentSettings(**values)


def component_secret() -> dict[str, Any]:
    """The component secret's JSON ({} when no secret is configured), cached for SECRET_MAX_AGE."""
    return _read_secret()


def reset_caches() -> None:
    """Forget cached secrets (tests; a rotation is picked up by the cache's age anyway)."""
    _secrets_provider.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@functools.cache
def _secrets_provider() -> parameters.SecretsProvider:
    # Created on first use (never at import), with a bound on every call like all our clients.
    return parameters.SecretsProvider(boto_config=SECRETS_CLIENT_CONFIG)


def _read_secret() -> dict[str, Any]:
    secret_id = os.environ.get("COMPONENT_SECRET_ID", "")
    if not secret_id:
        return {}
    try:
        value = _secrets_provider().get(secret_id, transform="json", max_age=SECRET_MAX_AGE)
    except parameters.exceptions.TransformParameterError as exc:
        raise ConfigurationError("the component secret is not a JSON object") from exc
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError("the component secret could not be read") from exc
    if not isinstance(value, dict):
        raise ConfigurationError("the component secret is not a JSON object")
    return value
