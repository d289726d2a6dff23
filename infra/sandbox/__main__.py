"""`python -m infra.sandbox`: run the WeChat sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from infra.sandbox.config import SandboxConfig
from infra.sandbox.server import Sandbox


def parse_args(argv: Sequence[str] | None = None) -> SandboxConfig:
    defaults = SandboxConfig()
    p = argparse.ArgumentParser(prog="python -m infra.sandbox", description="WeChat's side, on loopback.")
    p.add_argument("--host", default=defaults.host)
    p.add_argument("--port", type=int, default=defaults.port, help="0 = an ephemeral port")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--ticket-interval",
        type=float,
        default=defaults.ticket_interval,
        help="seconds between ticket pushes; 0 = only on start and on demand",
    )
    p.add_argument("--no-ticket-on-start", action="store_true")
    p.add_argument("--component-events-url", default=defaults.component_events_url)
    p.add_argument("--account-messages-url", default=defaults.account_messages_url, help="a template with {appid}")
    p.add_argument("--start-domain", default=defaults.start_domain)
    p.add_argument("--web-domain", default=None, help="web login's page domain and the JS-safe domain; default: start")
    p.add_argument("--push-timeout", type=float, default=defaults.push_timeout)
    p.add_argument("--push-tries", type=int, default=defaults.push_tries)
    p.add_argument("--push-retry-interval", type=float, default=defaults.push_retry_interval)
    p.add_argument("--ip-whitelist", default=None, help="comma-separated addresses; API calls from others get 61004")
    p.add_argument("--released", action="store_true", help="the platform passed its full-network release")
    p.add_argument(
        "--test-accounts", default=None, help="comma-separated appids on the test list; default: every account"
    )
    p.add_argument("--ticket-mode", choices=("new", "same"), default=defaults.ticket_mode, help="getticket's behaviour")
    p.add_argument("--dr-port", type=int, default=None, help="a second listener: WeChat's DR host (0: any port)")
    a = p.parse_args(argv)
    return SandboxConfig(
        host=a.host,
        port=a.port,
        seed=a.seed,
        ticket_interval=a.ticket_interval,
        push_ticket_on_start=not a.no_ticket_on_start,
        component_events_url=a.component_events_url,
        account_messages_url=a.account_messages_url,
        start_domain=a.start_domain,
        web_domain=a.web_domain,
        push_timeout=a.push_timeout,
        push_tries=a.push_tries,
        push_retry_interval=a.push_retry_interval,
        ip_whitelist=None if a.ip_whitelist is None else [ip.strip() for ip in a.ip_whitelist.split(",") if ip.strip()],
        released=a.released,
        test_accounts=None if a.test_accounts is None else [x.strip() for x in a.test_accounts.split(",") if x.strip()],
        ticket_mode=a.ticket_mode,
        dr_port=a.dr_port,
        report=say,
    )


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # a report comes from a request's thread, at any time


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with Sandbox(config) as sandbox:
        url = sandbox.url
        say(f"WeChat sandbox on {url} (seed {config.seed}, component {config.component_appid})")
        say(f"  API base (WECHAT_API_BASE)  {url}/cgi-bin/component/...")
        say(
            f"  authorization pages (WECHAT_MP_BASE) {url}/cgi-bin/componentloginpage, {url}/wxaopen/safe/bindcomponent"
        )
        say(f"  control page   {url}/sandbox/")
        if config.dr_port is not None:
            say(f"  disaster-recovery host (WECHAT_API_FALLBACKS) {sandbox.dr_url}")
        say(f"  pushes events to {config.component_events_url}")
        say(f"  pushes messages to {config.account_messages_url}")
        interval = config.ticket_interval or 0
        say(
            f"  tickets: {'on start' if config.push_ticket_on_start else 'not on start'}"
            f"{f', every {interval:g} s' if interval else ', then on demand'}"
        )
        say(f"  authorization start domain (Referer rule) {config.start_domain}")
        say(f"  web login and JS-SDK pages on {config.web_origin}; web login at {url}/connect/oauth2/authorize")
        merchants = sandbox.world.merchants
        release = "released" if merchants.released else "not released (the test list may authorize)"
        say(f"  full-network release: {release}")
        for account in merchants.accounts():
            notes = "" if account.api_permission else " (no API permission)"
            say(f"  account {account.appid} {account.user_name} {account.kind:16} {account.nick_name}{notes}")
        say("Ctrl-C to stop.")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
