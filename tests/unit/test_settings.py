"""Settings: read once, checked all at once, the same bounds as the template, secrets never shown."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

import wxcomponent.settings as settings_module
from infra.local.template import load_template
from wxcomponent.domain.errors import ConfigurationError
from wxcomponent.settings import (
    DEFAULT_API_BASE,
    DEFAULT_MP_BASE,
    DEFAULT_OPEN_BASE,
    LOGO_URL_MAX,
    REFRESH_MARGIN,
    REFRESH_PARALLELISM,
    Settings,
)

MINIMAL = {"TABLE_NAME": "wxcomponent-table", "EVENT_BUS_NAME": "stack-wxcomponent"}


def test_the_minimum_is_a_table_and_a_bus_and_everything_else_has_a_default() -> None:
    settings = Settings.from_environment(MINIMAL)
    assert (settings.table_name, settings.event_bus_name) == ("wxcomponent-table", "stack-wxcomponent")
    assert (settings.api_base, settings.mp_base, settings.open_base) == (
        DEFAULT_API_BASE,
        DEFAULT_MP_BASE,
        DEFAULT_OPEN_BASE,
    )
    assert (settings.refresh_margin, settings.refresh_parallelism) == (REFRESH_MARGIN[2], REFRESH_PARALLELISM[2])
    assert settings.product_name == "wxcomponent" and settings.logo_url == ""
    assert settings.message_reply_function == settings.caller_policy == settings.component_secret_id == ""


def test_every_problem_is_named_at_once_and_no_value_is_shown() -> None:
    environ = {
        "REFRESH_MARGIN_SECONDS": "²",
        "REFRESH_PARALLELISM": "0",
        "WECHAT_API_BASE": "ftp://secret-host-name",
        "MESSAGE_REPLY_FUNCTION_ARN": "arn:aws:s3:::bucket-secret",
        "PUBLIC_BASE_URL": "not a url",
    }
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environment(environ)
    message = refused.value.message
    for name in (
        "TABLE_NAME is not set",
        "EVENT_BUS_NAME is not set",
        "REFRESH_MARGIN_SECONDS must be a whole number of 120..3600",
        "REFRESH_PARALLELISM must be a whole number of 1..64",
        "WECHAT_API_BASE is malformed",
        "MESSAGE_REPLY_FUNCTION_ARN is malformed",
        "PUBLIC_BASE_URL is malformed",
    ):
        assert name in message
    assert "secret" not in message


@pytest.mark.parametrize("margin", ["60", "119", "3601", "1e3", "\uff11\uff12\uff10", "-300", "1200.0"])
def test_the_refresh_margin_is_a_plain_number_within_the_templates_bounds(margin: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_environment({**MINIMAL, "REFRESH_MARGIN_SECONDS": margin})


def test_the_template_and_the_code_agree_on_bounds_and_defaults() -> None:
    parameters = load_template()["Parameters"]
    for name, bounds in (("RefreshMarginSeconds", REFRESH_MARGIN), ("RefreshParallelism", REFRESH_PARALLELISM)):
        declared = parameters[name]
        assert (declared["MinValue"], declared["MaxValue"], declared["Default"]) == bounds, name


def test_the_mobile_page_follows_the_sandbox_unless_told() -> None:
    sandbox = Settings.from_environment({**MINIMAL, "WECHAT_MP_BASE": "http://127.0.0.1:3100/"})
    assert (sandbox.mp_base, sandbox.open_base) == ("http://127.0.0.1:3100", "http://127.0.0.1:3100")
    told = Settings.from_environment({**MINIMAL, "WECHAT_OPEN_BASE": "https://open.example"})
    assert told.open_base == "https://open.example"


def test_a_vendor_redirect_may_carry_a_query() -> None:
    settings = Settings.from_environment({**MINIMAL, "AUTHORIZED_REDIRECT_URL": "https://saas.example/done?from=wx"})
    assert settings.authorized_redirect_url == "https://saas.example/done?from=wx"


@pytest.mark.parametrize(
    "logo",
    [
        "https://cdn.example/logo.png",
        "https://cdn.example:8443/brand/logo.svg?v=2",
        "https://static.saas.example/a/b/logo@2x.png",
    ],
)
def test_a_logo_is_an_https_url(logo: str) -> None:
    assert Settings.from_environment({**MINIMAL, "LOGO_URL": f" {logo} "}).logo_url == logo


@pytest.mark.parametrize(
    "logo",
    [
        "http://cdn.example/logo.png",  # not https: mixed content, and the policy allows https only
        "javascript:alert(1)",
        "data:image/svg+xml,<svg/>",
        "//cdn.example/logo.png",
        "https://cdn.example",  # no path: not an image
        "https://user:secret-password@cdn.example/logo.png",
        'https://cdn.example/logo.png"onerror="alert(1)',
        "https://cdn.example/a b.png",
        "https://cdn.example;script-src */logo.png",
        "https://cdn.example/" + "a" * LOGO_URL_MAX,
    ],
)
def test_a_bad_logo_is_a_clear_configuration_error_that_shows_no_value(logo: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environment({**MINIMAL, "LOGO_URL": logo})
    message = refused.value.message
    assert f"LOGO_URL must be an https URL (https://host/path) of at most {LOGO_URL_MAX} characters" in message
    assert "secret-password" not in message and "alert" not in message


def test_component_values_given_directly_win_and_never_show_in_a_repr() -> None:
    environ = {
        **MINIMAL,
        "WECHAT_COMPONENT_APPID": "wx0123456789abcdef",
        "WECHAT_COMPONENT_APPSECRET": "the-app-secret",
        "WECHAT_COMPONENT_TOKEN": "the-token",
        "WECHAT_COMPONENT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    }
    settings = Settings.from_environment(environ)
    component = settings.component()  # no secret configured: nothing is fetched
    assert component.component_appid == "wx0123456789abcdef" and component.token == "the-token"
    for shown in (repr(settings), repr(component)):
        assert "the-app-secret" not in shown and "the-token" not in shown


def test_missing_component_values_without_a_secret_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="component settings missing"):
        Settings.from_environment(MINIMAL).component()


def test_settings_are_values_so_the_root_can_cache_one_graph_per_settings() -> None:
    assert Settings.from_environment(MINIMAL) == Settings.from_environment(dict(MINIMAL))
    assert hash(Settings.from_environment(MINIMAL)) == hash(Settings.from_environment(dict(MINIMAL)))


def test_the_secret_is_read_through_boto3s_default_session() -> None:
    """Powertools' SecretsProvider would make a boto3 session of its own, whose client loads
    botocore's data files again: some 80 ms of CPU at every cold start (docs/BENCHMARKS.md)."""
    settings_module.reset_caches()
    try:
        client: Any = settings_module._secrets_provider().client  # botocore's attributes, untyped
        default = boto3._get_default_session()
        assert client._loader is default._session.get_component("data_loader")
        assert client.meta.service_model.service_name == "secretsmanager"
        assert client.meta.config.read_timeout == 3  # still bounded
        assert isinstance(client.meta.config, Config)
    finally:
        settings_module.reset_caches()
