"""Where WeChat pushes: the two URLs of the platform's console (开发资料), 授权事件接收URL and
消息与事件接收URL, which a vendor changes when it moves its platform (docs/deploy.md, "Moving a live
platform here"). The configured ones until `set` changes them; `reset` brings those back.

Owns its data behind its own lock. Not kept across `make dev` restarts: a restart pushes to the
configured URLs again.
"""

from __future__ import annotations

import re
import threading

from infra.sandbox.config import SandboxConfig
from infra.sandbox.state.errors import JSON

_URL_RE = re.compile(r"https?://[\x21-\x7e]{1,2000}")
WECHAT_APPID = "$APPID$"  # what WeChat's console puts in the message URL for the account's appid


class ConsoleUrls:
    """The authorization-event URL and the message URL (a template with `{appid}`)."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._events = config.component_events_url
        self._messages = config.account_messages_url

    @property
    def component_events_url(self) -> str:
        with self._lock:
            return self._events

    @property
    def account_messages_url(self) -> str:
        with self._lock:
            return self._messages

    def set(self, component_events_url: object = None, account_messages_url: object = None) -> JSON:
        """Changes either or both (None: as it is); ValueError, and nothing changed, for one that is
        not an http(s) URL. The message URL is taken as WeChat's console takes it, with `$APPID$`,
        or as the sandbox's template, with `{appid}`."""
        events = None if component_events_url is None else _url(component_events_url, "component_events_url")
        messages = None if account_messages_url is None else _template(account_messages_url)
        with self._lock:
            self._events = events or self._events
            self._messages = messages or self._messages
        return self.describe()

    def describe(self) -> JSON:
        with self._lock:
            return {"component_events_url": self._events, "account_messages_url": self._messages}

    def reset(self) -> None:
        with self._lock:
            self._events = self._config.component_events_url
            self._messages = self._config.account_messages_url


def _url(value: object, name: str) -> str:
    if not isinstance(value, str) or not _URL_RE.fullmatch(value):
        raise ValueError(f"{name!r} must be an http(s) URL")
    return value


def _template(value: object) -> str:
    url = _url(value, "account_messages_url").replace(WECHAT_APPID, "{appid}")
    try:
        url.format(appid="wx0000000000000000")
    except (KeyError, IndexError, ValueError):
        raise ValueError("'account_messages_url' may hold $APPID$ (or {appid}), and no other braces") from None
    return url
