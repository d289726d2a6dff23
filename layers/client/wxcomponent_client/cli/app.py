"""The operator CLI, `wxcomponent` (docs/operator-cli.md): a deployed stack (`--stack NAME`, with the
caller's AWS credentials) or `make dev`'s (`--local`). Tables on a terminal, JSON with `--json`."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wxcomponent_client.cli import output
from wxcomponent_client.cli.clears import CLEARS_PER_MONTH, clears_made, record_clear, record_spent
from wxcomponent_client.cli.follow import LOCAL_POLL, LONG_POLL, BusFollower, describe
from wxcomponent_client.cli.inventory import Authorizer, Inventory, read_inventory
from wxcomponent_client.cli.reconcile import Reconciliation, reconcile
from wxcomponent_client.cli.target import Target, core_importable, local_target, stack_target
from wxcomponent_client.keys import authorizer_key, authorizer_of, component_key
from wxcomponent_client.tokens import TokenClient, TokenError
from wxcomponent_client.wechat import WeChatError

TICKET_STALE_AFTER = 30 * 60  # the refresher asks WeChat to push again past this (services/refresher.py)
RUN_LATE_AFTER = 15 * 60  # three of the default 5-minute schedule's runs
STATES = ("authorized", "no_api_permission", "needs_reauthorization", "revoked")
logs_to_stderr = False  # the console script sends the core's log lines to stderr (main, below)


@dataclass
class Options:
    local: bool
    stack: str | None
    region: str | None
    profile: str | None
    urls: dict[str, str]
    names: dict[str, str]
    out: output.Output
    _target: Target | None = field(default=None, repr=False)

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = self._resolve()
        return self._target

    def _resolve(self) -> Target:
        if self.local == bool(self.stack):
            raise click.UsageError("say which stack: --local (make dev's) or --stack NAME (a deployed one)")
        if self.local:
            return local_target(self.urls["gateway"], self.urls["sandbox"], self.urls["emulator"], **self.names)
        assert self.stack is not None
        return stack_target(self.stack, region=self.region, profile=self.profile)

    def wx(self) -> Any:
        """The core's composition root for the target (the core is imported then, not before)."""
        container = self.target.container
        if logs_to_stderr:
            import logging  # noqa: PLC0415

            from wxcomponent.observability import logger  # noqa: PLC0415

            handler = logger.registered_handler
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.stderr)
        return container


class _Group(click.Group):
    """Turns what AWS, the token center or WeChat answer into one clear line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TokenError as error:
            raise click.ClickException(f"the token center refused: {error}") from None
        except WeChatError as error:
            raise click.ClickException(str(error)) from None
        except NoCredentialsError:
            raise click.ClickException("no AWS credentials: set a profile (--profile) or AWS_* variables") from None
        except NoRegionError:
            raise click.ClickException("no AWS region: --region, or AWS_REGION") from None
        except EndpointConnectionError as error:
            raise click.ClickException(
                f"nothing answers at {error.kwargs.get('endpoint_url')}: is it running?"
            ) from None
        except (ClientError, BotoCoreError) as error:
            raise click.ClickException(f"AWS: {error}") from None
        except Exception as error:
            if type(error).__module__.startswith("wxcomponent."):  # the core's typed errors
                raise click.ClickException(f"{type(error).__name__}: {error}") from None
            raise


def _port(variable: str, default: int) -> str:
    return f"http://127.0.0.1:{os.environ.get(variable) or default}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--local", is_flag=True, help="make dev's stack on loopback (dummy credentials).")
@click.option("--stack", envvar="WXCOMPONENT_STACK", metavar="NAME", help="A deployed stack, by name.")
@click.option("--region", envvar="AWS_REGION", help="The stack's region (else your AWS configuration's).")
@click.option("--profile", envvar="AWS_PROFILE", help="The AWS profile to use.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--gateway-url", envvar="WXCOMPONENT_GATEWAY_URL", default=lambda: _port("GATEWAY_PORT", 3000))
@click.option("--sandbox-url", envvar="WXCOMPONENT_SANDBOX_URL", default=lambda: _port("SANDBOX_PORT", 3100))
@click.option("--emulator-url", envvar="WXCOMPONENT_EMULATOR_URL", default=lambda: _port("EMULATOR_PORT", 8000))
@click.option("--table", default="wxcomponent-local", show_default=True, help="--local: the table.")
@click.option("--bus", default="wxcomponent-local", show_default=True, help="--local: the event bus.")
@click.option("--secret-id", default="wxcomponent-local/component", show_default=True, help="--local: the secret.")
@click.pass_context
def cli(
    ctx: click.Context,
    local: bool,
    stack: str | None,
    region: str | None,
    profile: str | None,
    as_json: bool,
    gateway_url: str,
    sandbox_url: str,
    emulator_url: str,
    table: str,
    bus: str,
    secret_id: str,
) -> None:
    """Operate a wxcomponent-serverless token center: its ticket, tokens, grants and events."""
    ctx.obj = Options(
        local,
        stack,
        region,
        profile,
        {"gateway": gateway_url, "sandbox": sandbox_url, "emulator": emulator_url},
        {"table": table, "bus": bus, "secret": secret_id},
        output.Output(as_json),
    )


# -- status ---------------------------------------------------------------------------------------------


@cli.command()
@click.pass_obj
def status(o: Options) -> None:
    """The ticket's age, the component token's life left, grants by state, the last refresher run."""
    wx = o.wx()
    appid = o.target.component.component_appid
    now = time.time()
    ticket = wx.verify_tickets.get_ticket(appid)
    token = wx.tokens.get_component_token(appid)
    run = wx.refresh_runs.last_run(appid)
    inventory = read_inventory(o.target.client("dynamodb"), o.target.table_name)
    data: dict[str, Any] = {
        **o.target.describe(),
        "component_appid": appid,
        "ticket": None
        if ticket is None
        else {
            "received_at": output.stamp(ticket.received_at),
            "age_seconds": int(now - ticket.received_at),
            "expires_at": output.stamp(ticket.expires_at),
        },
        "component_token": None
        if token is None
        else {"expires_at": output.stamp(token.expires_at), "life_left_seconds": int(token.expires_at - now)},
        "grants": inventory.by_state(),
        "last_refresher_run": None
        if run is None
        else {
            "started_at": output.stamp(run.started_at),
            "finished_at": output.stamp(run.finished_at),
            "age_seconds": int(now - run.finished_at),
            "report": run.summary,
            "failures": run.failures,
        },
        "remembered_failures": [
            {
                "owner": f.owner,
                "kind": f.kind,
                "errcode": f.errcode,
                "message": f.message,
                "until": output.stamp(f.until),
            }
            for f in inventory.failures
            if f.until > now
        ],
    }
    data["whitelist"] = _whitelist(o.target, data["remembered_failures"])
    data["problems"] = _problems(data) + _whitelist_problems(data["whitelist"])
    o.out.emit(data, lambda console: _render_status(console, data))


def _whitelist(target: Target, failures: list[dict[str, Any]]) -> dict[str, Any]:
    """The addresses WeChat is told to accept, beside the ones WeChat said it saw when it refused a
    call as off the whitelist (61004, 40164: a refusal remembered for 10 minutes)."""
    from wxcomponent.domain.wechat import WHITELIST_ERRCODES, client_ip_in  # noqa: PLC0415 - the core is optional

    refused: list[dict[str, Any]] = []
    for failure in failures:
        if failure["errcode"] in WHITELIST_ERRCODES:
            seen = {"errcode": failure["errcode"], "client_ip": client_ip_in(failure["message"] or "")}
            if seen not in refused:
                refused.append(seen)
    return {**target.whitelist(), "refused": refused}


def _whitelist_problems(whitelist: dict[str, Any]) -> list[str]:
    listed = ", ".join(whitelist["ips"]) or whitelist["note"] or "nothing"
    problems = []
    for seen in whitelist["refused"]:
        address, errcode = seen["client_ip"] or "an address it did not name", seen["errcode"]
        if seen["client_ip"] in whitelist["ips"]:
            problems.append(
                f"WeChat refused a call from {address} ({errcode}), which {whitelist['source']} lists: check the"
                " console of this platform holds it (added through 编辑, it applies from the next full-network"
                " release; through 修改, at once)"
            )
        else:
            problems.append(
                f"WeChat refused a call from {address} ({errcode}): not in {whitelist['source']} ({listed}); add it to"
                " the platform's IP whitelist, or send the calls through the whitelisted egress (docs/deploy.md)"
            )
    return problems


def _problems(data: dict[str, Any]) -> list[str]:
    problems = []
    ticket, token, run = data["ticket"], data["component_token"], data["last_refresher_run"]
    if ticket is None:
        problems.append("no verify ticket: WeChat has not pushed one (check the authorization-event URL)")
    elif ticket["age_seconds"] > TICKET_STALE_AFTER:
        problems.append(f"the ticket is {output.duration(ticket['age_seconds'])} old (WeChat pushes every 10 minutes)")
    if token is None or token["life_left_seconds"] <= 0:
        problems.append("no valid component token")
    if run is None:
        problems.append("no refresher run recorded")
    elif run["age_seconds"] > RUN_LATE_AFTER:
        problems.append(f"the last refresher run finished {output.duration(run['age_seconds'])} ago")
    if run is not None and run["failures"]:
        problems.append(f"the last refresher run had failures: {run['failures']}")
    if data["grants"].get("needs_reauthorization"):
        problems.append(f"{data['grants']['needs_reauthorization']} grant(s) need the merchant to authorize again")

    return problems


def _render_status(console: Console, data: dict[str, Any]) -> None:
    grid = output.fields(title=f"wxcomponent · {data['target']} · component {data['component_appid']}")
    ticket, token, run = data["ticket"], data["component_token"], data["last_refresher_run"]
    grid.add_row("ticket", "[red]none[/red]" if ticket is None else f"{output.duration(ticket['age_seconds'])} old")
    grid.add_row(
        "component token",
        "[red]none[/red]" if token is None else output.until(time.time() + token["life_left_seconds"]),
    )
    grants = ", ".join(f"{output.state(state)} {count}" for state, count in data["grants"].items()) or "none"
    grid.add_row("grants", grants)
    if run is None:
        grid.add_row("last refresher run", "[yellow]none recorded[/yellow]")
    else:
        report = run["report"]
        grid.add_row(
            "last refresher run",
            f"{output.duration(run['age_seconds'])} ago: due {report.get('due')}, refreshed {report.get('refreshed')}, "
            f"left over {report.get('left_over')}, failed {run['failures'] or 'none'}",
        )
    for failure in data["remembered_failures"]:
        remembered = f"{failure['owner']}: errcode {failure['errcode']} until {failure['until']}"
        grid.add_row("remembered failure", output.safe(remembered))
    whitelist = data.get("whitelist")
    if whitelist is not None:
        listed = ", ".join(whitelist["ips"]) or whitelist["note"] or output.NONE
        grid.add_row("whitelist", output.safe(f"{listed} ({whitelist['source']})"))
        for seen in whitelist["refused"]:
            grid.add_row("WeChat saw", output.safe(f"{seen['client_ip'] or 'no address named'} ({seen['errcode']})"))
    console.print(grid)
    for problem in data["problems"]:
        console.print(f"[yellow]![/yellow] {output.safe(problem)}")
    if not data["problems"]:
        console.print("[green]✓[/green] nothing needs attention")


# -- authorizers --------------------------------------------------------------------------------------


@cli.command()
@click.option("--state", type=click.Choice(STATES), help="Only grants in this state.")
@click.pass_obj
def authorizers(o: Options, state: str | None) -> None:
    """Every authorizer: appid, name, type, state, token expiry, last refresh."""
    inventory = read_inventory(o.target.client("dynamodb"), o.target.table_name)
    rows = [a for _, a in sorted(inventory.authorizers.items()) if state is None or a.status == state]
    data = [_authorizer_json(a) for a in rows]
    o.out.emit(data, lambda console: _render_authorizers(console, rows))


def _render_authorizers(console: Console, rows: list[Authorizer]) -> None:
    # The account's name and type share a column: beside a whole appid and state, two narrow ones
    # would be cut inside words at 80 columns.
    grid = output.table("appid", "account", "state", "token expires", "last refresh")
    for a in rows:
        grid.add_row(
            a.appid,
            f"{output.safe(a.name) or output.NONE}\n[dim]{a.account_type or output.NONE}[/dim]",
            output.state(a.status),
            output.until(a.token_expires_at),
            output.ago(a.token_issued_at),
        )
    console.print(grid)


def _authorizer_json(a: Authorizer) -> dict[str, Any]:
    return {
        "appid": a.appid,
        "name": a.name,
        "principal": a.principal,
        "type": a.account_type,
        "state": a.status,
        "authorized_at": output.stamp(a.authorized_at),
        "token_expires_at": output.stamp(a.token_expires_at),
        "last_refresh": output.stamp(a.token_issued_at),
        "refresh_due": output.stamp(a.refresh_due),
    }


# -- vend ---------------------------------------------------------------------------------------------------


@cli.command()
@click.argument("appid", required=False)
@click.option("--show", is_flag=True, help="Print the token itself (masked otherwise).")
@click.pass_obj
def vend(o: Options, appid: str | None, show: bool) -> None:
    """A token from the vending function: the authorizer's, or the component's without APPID. A
    refusal exits 1 (for scripts); with --json its {"error": …} is printed, as the contract has it."""
    try:
        token = o.target.token_client().get_token(appid)
    except TokenError as error:
        if not o.out.as_json:
            raise  # one line on stderr, and exit code 1 (_Group)
        refusal = {"code": error.code, "reason": error.reason, "message": error.message, "errcode": error.errcode}
        o.out.emit({"error": {k: v for k, v in refusal.items() if v is not None}}, lambda console: None)
        raise click.exceptions.Exit(1) from None
    shown = token.access_token if show else output.mask(token.access_token)
    kind = "authorizer" if appid else "component"
    data = {
        "kind": kind,
        "appid": token.appid,
        "access_token": shown,
        "expires_at": output.stamp(token.expires_at),
        "life_left_seconds": int(token.expires_at - time.time()),
    }
    o.out.emit(data, lambda console: _render_token(console, kind, token.appid, shown, token.expires_at, shown=show))


def _render_token(console: Console, kind: str, appid: str, token: str, expires_at: float, *, shown: bool) -> None:
    """A masked token fits the list; a shown one (136 characters) goes below it, whole on its line."""
    grid = output.fields()
    grid.add_row(kind, appid)
    grid.add_row("expires", output.until(expires_at))
    grid.add_row("access_token", f"{len(token)} characters, on the next line" if shown else token)
    console.print(grid)
    if shown:
        output.long_value(console, token)


# -- refresh ----------------------------------------------------------------------------------------------


@cli.command()
@click.argument("appids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every authorized grant.")
@click.option("--component", is_flag=True, help="The component token too.")
@click.pass_obj
def refresh(o: Options, appids: tuple[str, ...], every: bool, component: bool) -> None:
    """Renews tokens now, through the vending function: each is reported as invalid, so each costs
    WeChat exactly one call, and a token younger than 5 minutes is kept (the token center's guard
    against loops)."""
    if not (appids or every or component):
        raise click.UsageError("name APPIDs, or --all, or --component")
    owners: list[str | None] = [None] if component else []
    if every:
        owners += read_inventory(o.target.client("dynamodb"), o.target.table_name).authorized()
    owners += [appid for appid in appids if appid not in owners]
    client = o.target.token_client()
    with _progress(o.out, "refreshing", len(owners)) as advance:
        results = [_refresh_one(client, owner, advance) for owner in owners]
    json_results = [{k: v for k, v in r.items() if k != "expires_at_epoch"} for r in results]
    o.out.emit(json_results, lambda console: _render_refresh(console, results))
    if any(r["outcome"] == "failed" for r in results):
        raise click.exceptions.Exit(1)


def _render_refresh(console: Console, results: list[dict[str, Any]]) -> None:
    grid = output.table("token", "outcome", "expires")
    for r in results:
        outcome = {"refreshed": "[green]refreshed[/green]", "kept": "kept: younger than 5 minutes"}.get(
            r["outcome"], f"[red]{output.safe(r.get('error'))}: {output.safe(r.get('message'))}[/red]"
        )
        grid.add_row(r["appid"] or "component", outcome, output.until(r.get("expires_at_epoch")))
    console.print(grid)


def _refresh_one(client: TokenClient, owner: str | None, advance: Any) -> dict[str, Any]:
    try:
        before = client.get_token(owner)
        client.report_invalid(before.access_token)
        after = client.get_token(owner)
    except TokenError as error:
        advance()
        return {
            "appid": owner,
            "outcome": "failed",
            "error": error.code,
            "errcode": error.errcode,
            "message": error.message,
        }
    advance()
    return {
        "appid": owner,
        "outcome": "refreshed" if after.access_token != before.access_token else "kept",
        "expires_at": output.stamp(after.expires_at),
        "expires_at_epoch": after.expires_at,
    }


@contextmanager
def _progress(out: output.Output, description: str, total: int | None) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; `advance()` and `set_total(n)` either way."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.notices,
        disable=not out.notices.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance() -> None:
            progress.advance(task)

        advance.set_total = lambda n: progress.update(task, total=n)  # type: ignore[attr-defined]
        yield advance


# -- reconcile --------------------------------------------------------------------------------------------


@cli.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Report what would be repaired; change nothing.")
@click.pass_obj
def reconcile_command(o: Options, dry_run: bool) -> None:
    """Our grants beside WeChat's api_get_authorizer_list: repairs missing or stale refresh tokens,
    lists the grants WeChat no longer knows. Calls WeChat from here (see docs/operator-cli.md)."""
    wx = o.wx()
    inventory: Inventory = read_inventory(o.target.client("dynamodb"), o.target.table_name)
    with _progress(o.out, "api_get_authorizer_list", None) as advance:
        result = reconcile(wx, inventory.authorized(), repair=not dry_run, on_total=advance.set_total, on_item=advance)
    data = {
        "listed": result.listed,
        "in_order": result.in_order,
        "findings": [vars(finding) for finding in result.findings],
        "unknown_to_wechat": result.unknown_to_wechat,
        "dry_run": dry_run,
    }
    o.out.emit(data, lambda console: _render_reconcile(console, result))


def _render_reconcile(console: Console, result: Reconciliation) -> None:
    console.print(f"WeChat lists {result.listed} account(s); {result.in_order} in order.")
    if result.findings:
        grid = output.table("appid", "problem", "action")
        for finding in result.findings:
            colour = "green" if finding.action == "repaired" else "yellow"
            action = output.safe(finding.action)
            grid.add_row(finding.appid, output.safe(finding.problem), f"[{colour}]{action}[/{colour}]")
        console.print(grid)
    for appid in result.unknown_to_wechat:
        console.print(f"[yellow]![/yellow] {appid}: authorized here, not listed by WeChat")


# -- migrate --------------------------------------------------------------------------------------------

MIGRATION_SOURCES = {"authorizer_list": "list", "file": "file"}


@cli.command()
@click.option(
    "--tokens",
    "tokens_file",
    type=click.File("rb"),
    metavar="FILE",
    help="The old system's appid → refresh token (JSON object or CSV), for accounts WeChat lists without one.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--replace-held", is_flag=True, help="A grant held here with another refresh token: take WeChat's.")
@click.pass_obj
def migrate(o: Options, tokens_file: Any, dry_run: bool, replace_held: bool) -> None:
    """Moves a live platform here: every account WeChat lists (api_get_authorizer_list, every page)
    becomes a grant with its refresh token, so no merchant authorizes again. Calls WeChat from here.
    The order of the whole move: docs/deploy.md, "Moving a live platform here"."""
    core_importable()
    from wxcomponent.domain.errors import BadRequest  # noqa: PLC0415 - the core is optional
    from wxcomponent.services.migration import read_old_tokens  # noqa: PLC0415

    old: dict[str, str] = {}
    if tokens_file is not None:
        try:
            old = read_old_tokens(tokens_file.read())
        except BadRequest as error:  # before anything is asked of AWS or WeChat
            raise click.BadParameter(str(error), param_hint="--tokens") from None
    service = o.wx().migrations
    with _progress(o.out, "api_get_authorizer_list", None) as advance:
        plan = service.plan(old, on_total=advance.set_total, on_item=advance)
    outcomes: dict[str, Any] = {}
    if not dry_run:
        with _progress(o.out, "importing", len(plan.steps)) as advance:
            for step in plan.steps:
                outcomes[step.authorizer_appid] = service.apply(step, replace_held=replace_held)
                advance()
    rows = [
        {
            "appid": step.authorizer_appid,
            "plan": step.action,
            "source": step.source or None,
            **({} if dry_run else {"outcome": outcomes[step.authorizer_appid].result}),
        }
        for step in plan.steps
    ]
    data = {
        "dry_run": dry_run,
        "listed": plan.listed,
        "file_entries": len(old),
        "plan": {action: plan.count(action) for action in _MIGRATION_ACTIONS if plan.count(action)},
        "imported": sum(1 for outcome in outcomes.values() if outcome.result == "imported"),
        "accounts": rows,
    }
    o.out.emit(data, lambda console: _render_migration(console, data, replace_held=replace_held))


_MIGRATION_ACTIONS = ("import", "held", "conflict", "revoked_here", "no_token", "not_listed")
_MIGRATION_NOTES = {
    "conflict": "held here with another refresh token: left alone (--replace-held takes WeChat's)",
    "revoked_here": "revoked here after the authorization WeChat lists: not imported",
    "no_token": "no refresh token in WeChat's list nor the file: the merchant must authorize again",
    "not_listed": "in the file, not listed by WeChat: it no longer authorizes the platform",
}


def _render_migration(console: Console, data: dict[str, Any], *, replace_held: bool) -> None:
    dry_run = data["dry_run"]
    columns = ("appid", "plan", "source") if dry_run else ("appid", "plan", "source", "outcome")
    grid = output.table(*columns)
    for row in data["accounts"]:
        colour = {"import": "green", "held": "dim"}.get(row["plan"], "yellow")
        cells = [row["appid"], f"[{colour}]{row['plan']}[/{colour}]", MIGRATION_SOURCES.get(row["source"], output.NONE)]
        if not dry_run:
            cells.append(output.safe(row["outcome"]))
        grid.add_row(*cells)
    if data["accounts"]:
        console.print(grid)
    counts = ", ".join(f"{action} {count}" for action, count in data["plan"].items()) or "nothing"
    console.print(f"WeChat lists {data['listed']} account(s); the file has {data['file_entries']}. Plan: {counts}.")
    for action, note in _MIGRATION_NOTES.items():
        if action in data["plan"] and not (action == "conflict" and replace_held):
            console.print(f"[yellow]![/yellow] {data['plan'][action]} {note}")
    if dry_run:
        console.print("Dry run: nothing was written.")
    else:
        console.print(
            f"[green]✓[/green] {data['imported']} imported, each due for refresh now: the refresher fetches "
            "their tokens on its next run, a vend at once."
        )


# -- start-push-ticket ----------------------------------------------------------------------------------


@cli.command("start-push-ticket")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for the new ticket.")
@click.pass_obj
def start_push_ticket(o: Options, wait: float) -> None:
    """Asks WeChat to push a verify ticket now (api_start_push_ticket). Calls WeChat from here."""
    wx = o.wx()
    component = o.target.component
    before = wx.verify_tickets.get_ticket(component.component_appid)
    wx.wechat.start_push_ticket(component.component_appid, component.component_appsecret)
    arrived = None
    deadline = time.monotonic() + wait
    while wait > 0:
        ticket = wx.verify_tickets.get_ticket(component.component_appid)
        if ticket is not None and (
            before is None or (ticket.create_time, ticket.ticket) != (before.create_time, before.ticket)
        ):
            arrived = ticket
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)  # polling the table for the push WeChat makes to the stack, not a test's wait
    data = {
        "requested": True,
        "new_ticket_received_at": None if arrived is None else output.stamp(arrived.received_at),
    }

    def render(console: Console) -> None:
        console.print("[green]✓[/green] WeChat was asked to push a ticket.")
        if arrived is not None:
            console.print(f"[green]✓[/green] a new ticket arrived at {data['new_ticket_received_at']}.")
        elif wait > 0:
            console.print(f"[yellow]![/yellow] no new ticket within {wait:g} s (WeChat pushes within minutes).")

    o.out.emit(data, render)


# -- diagnosis: rid, quota, clear-quota -------------------------------------------------------------

# The token center's own calls, whose quotas `quota` shows: the component's, and an account's.
COMPONENT_APIS = (
    "/cgi-bin/component/api_component_token",
    "/cgi-bin/component/api_create_preauthcode",
    "/cgi-bin/component/api_query_auth",
    "/cgi-bin/component/api_authorizer_token",
    "/cgi-bin/component/api_get_authorizer_info",
    "/cgi-bin/component/api_get_authorizer_list",
    "/cgi-bin/component/api_start_push_ticket",
)
AUTHORIZER_APIS = ("/cgi-bin/message/custom/send", "/cgi-bin/ticket/getticket")
_RID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")  # WeChat's rid, as its errmsg ends
_APPID = re.compile(r"wx[0-9a-f]{16}")
# An API's path as getApiQuota takes it: no host, a leading slash; WeChat's web-login APIs have none.
_CGI_PATH = re.compile(r"/(?!sns/)[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64}){0,7}")


def _appid(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _APPID.fullmatch(value):
        raise click.BadParameter("an account's appid: wx and 16 hex digits")
    return value


def _cgi_paths(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not _CGI_PATH.fullmatch(value):
            raise click.BadParameter(f"{value!r}: an API's path, as /cgi-bin/component/api_query_auth (not /sns/…)")
    return values


def _token_for(wx: Any, appid: str | None) -> str:
    """The component's access token, or the account's: the stored one, refreshed here (calling
    WeChat from this machine) only when it has run out. Never printed."""
    if appid is None:
        return str(wx.component_tokens.token(min_validity=60).access_token)
    return str(wx.authorizer_tokens.token(appid, min_validity=60).access_token)


@cli.command("rid")
@click.argument("rid")
@click.option(
    "--appid", callback=_appid, help="The account whose call it was (its token asks), if not the component's."
)
@click.pass_obj
def rid_command(o: Options, rid: str, appid: str | None) -> None:
    """What WeChat saw of the call that answered with RID (getRidInfo, kept 7 days): when, how long,
    from which address, the request and the answer, tokens and secrets masked. Calls WeChat from here."""
    rid = rid.strip().lower()
    if not _RID.fullmatch(rid):
        raise click.BadParameter(
            "WeChat's rid: three groups of 8 hex digits, as 61725984-6126f6f9-040f19c4", param_hint="RID"
        )
    wx = o.wx()
    from wxcomponent.domain.wechat import UpstreamError  # noqa: PLC0415 - the core is optional

    try:
        info = wx.wechat.get_rid_info(_token_for(wx, appid), rid)
    except UpstreamError as error:
        hint = {
            76001: "WeChat knows no such rid: mistyped, or older than 7 days",
            76003: "WeChat says that call was not "
            + ("this account's" if appid else "the component's: ask with --appid, the account whose call it was"),
            76022: "WeChat looks up no rid of its web-login (/sns/) APIs",
        }.get(error.errcode or 0)
        if hint is None:
            raise
        raise click.ClickException(f"{hint} (errcode {error.errcode})") from None
    data = {
        "rid": rid,
        "asked_as": appid or "component",
        "invoke_time": output.stamp(info.invoke_time) if info.invoke_time else None,
        "cost_in_ms": info.cost_in_ms,
        "client_ip": info.client_ip,
        "request_url": info.request_url,
        "request_body": info.request_body,
        "response_body": info.response_body,
    }
    o.out.emit(data, lambda console: _render_rid(console, data))


def _render_rid(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[bold]rid {data['rid']}[/bold] · what WeChat saw ({data['asked_as']} asked)")
    grid = output.fields()
    grid.add_row("invoked", data["invoke_time"] or output.NONE)
    grid.add_row("took", f"{data['cost_in_ms']} ms")
    grid.add_row("from", output.safe(data["client_ip"]) or output.NONE)
    console.print(grid)
    for label in ("request_url", "request_body", "response_body"):  # whole, each on lines of its own
        console.print(f"[bold]{label.replace('_', ' ')}[/bold]")
        output.long_value(console, data[label] or output.NONE)


@cli.command()
@click.option("--appid", callback=_appid, help="An authorized account's quotas (its token asks), not the component's.")
@click.option(
    "--api",
    "apis",
    multiple=True,
    metavar="CGI_PATH",
    callback=_cgi_paths,
    help="This API's quota instead (repeatable).",
)
@click.pass_obj
def quota(o: Options, appid: str | None, apis: tuple[str, ...]) -> None:
    """Today's quota of each API the token center calls (getApiQuota): the daily limit, what was used,
    what remains, for the component or, with --appid, an account; and the clears left this month.
    Calls WeChat from here."""
    wx = o.wx()
    from wxcomponent.domain.wechat import UpstreamError  # noqa: PLC0415 - the core is optional

    token = _token_for(wx, appid)
    rows: list[dict[str, Any]] = []
    for path in apis or (AUTHORIZER_APIS if appid else COMPONENT_APIS):
        try:
            found = wx.wechat.get_api_quota(token, path)
        except UpstreamError as error:
            rows.append({"api": path, "errcode": error.errcode, "rid": error.rid, "message": error.message})
            continue
        rows.append({"api": path, "daily_limit": found.daily_limit, "used": found.used, "remain": found.remain})
    account = appid or o.target.component.component_appid
    made = clears_made(o.target.client("dynamodb"), o.target.table_name, _partition(account, appid))
    data = {"account": account, "apis": rows, "clears": _clears(made)}
    o.out.emit(data, lambda console: _render_quota(console, data))
    if any("errcode" in row for row in rows):
        raise click.exceptions.Exit(1)


def _render_quota(console: Console, data: dict[str, Any]) -> None:
    grid = output.table("api", "daily limit", "used", "remain", title=f"today's quotas of {data['account']}")
    for row in data["apis"]:
        if "errcode" in row:
            grid.add_row(row["api"], f"[red]{output.safe(row['message'])}[/red]", "", "")
            continue
        remain = str(row["remain"]) if row["remain"] else "[red]0[/red]"
        grid.add_row(row["api"], str(row["daily_limit"]), str(row["used"]), remain)
    console.print(grid)
    console.print(_clears_line(data["clears"]))


def _forget_quota_refusals(o: Options, wx: Any, appid: str | None) -> list[str]:
    """WeChat cleared the quota: the 45009 refusals the token center remembers (an hour, so that
    nobody asks again meanwhile) need not be waited out. Remembered again as already over; a
    refusal forgotten too soon costs one call, which WeChat refuses again."""
    from wxcomponent.domain.wechat import RefreshFailure  # noqa: PLC0415 - the core is optional

    now = time.time()
    forgotten = []
    for failure in read_inventory(o.target.client("dynamodb"), o.target.table_name).failures:
        if failure.errcode == 45009 and failure.until > now and (appid is None or appid in failure.owner):
            over = RefreshFailure(failure.kind, failure.errcode, failure.message, now)
            account = authorizer_of(failure.owner)
            if account is not None:
                wx.stores.authorizers.remember_failure(account, over)  # an authorizer's: in its one item
            else:
                wx.stores.failures.remember_failure(failure.owner, over)  # the component's, a ticket's
            forgotten.append(failure.owner)
    return forgotten


def _partition(account: str, appid: str | None) -> str:
    return authorizer_key(account) if appid else component_key(account)


def _clears(made: int) -> dict[str, int]:
    return {
        "per_month": CLEARS_PER_MONTH,
        "made_here_this_month": made,
        "left_at_most": max(0, CLEARS_PER_MONTH - made),
    }


def _clears_line(clears: dict[str, int]) -> str:
    return (
        f"clear-quota: at most {clears['left_at_most']} of {clears['per_month']} clears left this month "
        f"({clears['made_here_this_month']} made here; WeChat does not say, and the console's count too)"
    )


@cli.command("clear-quota")
@click.option(
    "--appid", callback=_appid, help="Clear an authorized account's quotas (spends its clears), not the component's."
)
@click.option("--yes", is_flag=True, help="Clear without asking first.")
@click.pass_obj
def clear_quota(o: Options, appid: str | None, yes: bool) -> None:
    """Resets today's API call counts (clear_quota/v2, with the AppSecret alone: it works when even
    the token APIs' quota is spent), of the component or, with --appid, an account. Each account has
    10 clears a month, the console's included: asks first, and says how many are left. Calls WeChat
    from here."""
    wx = o.wx()
    from wxcomponent.domain.wechat import UpstreamError  # noqa: PLC0415 - the core is optional

    component = o.target.component
    account = appid or component.component_appid
    dynamodb, partition = o.target.client("dynamodb"), _partition(account, appid)
    made = clears_made(dynamodb, o.target.table_name, partition)
    if not yes:
        click.confirm(
            f"Clear today's API quotas of {account}? It spends one of its {CLEARS_PER_MONTH} clears this month "
            f"({made} made here so far; the console's count too)",
            abort=True,
            err=True,
        )
    try:
        wx.wechat.clear_quota(component.component_appid, component.component_appsecret, appid or "")
    except UpstreamError as error:
        if error.errcode != 48006:
            raise
        record_spent(dynamodb, o.target.table_name, partition)
        spent = f"the {CLEARS_PER_MONTH} clears of this month are spent for {account}"
        refused = {"account": account, "cleared": False, "errcode": 48006, "rid": error.rid}
        o.out.emit(
            {**refused, "clears": _clears(CLEARS_PER_MONTH)},
            lambda console: console.print(f"[red]✗[/red] WeChat refuses (48006): {spent}."),
        )
        raise click.exceptions.Exit(1) from None
    clears = _clears(record_clear(dynamodb, o.target.table_name, partition))
    forgotten = _forget_quota_refusals(o, wx, appid)
    data = {"account": account, "cleared": True, "clears": clears, "forgotten_refusals": forgotten}

    def render(console: Console) -> None:
        console.print(f"[green]✓[/green] WeChat cleared today's API quotas of {account}.")
        console.print(_clears_line(clears))

    o.out.emit(data, render)


# -- events ------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--follow", "-f", is_flag=True, help="Show events as they arrive (the bus keeps no history).")
@click.option("--max-events", type=click.IntRange(min=1), help="Stop after this many.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.pass_obj
def events(o: Options, follow: bool, max_events: int | None, timeout: float | None) -> None:
    """The bus's events as they arrive, through a temporary rule and queue, deleted on exit."""
    if not follow:
        raise click.UsageError("the bus keeps no history: --follow shows its events as they arrive")
    target = o.target
    deadline = None if timeout is None else time.monotonic() + timeout
    poll = LOCAL_POLL if target.local else LONG_POLL
    with BusFollower(target.client("events"), target.client("sqs"), target.event_bus_name, poll=poll) as follower:
        o.out.notice(
            f"Following {target.event_bus_name} through rule and queue {follower.name}; Ctrl-C stops and deletes both."
        )
        seen = 0
        try:
            for event in follower.events(deadline=deadline):
                o.out.line(event, describe(event))
                seen += 1
                if max_events is not None and seen >= max_events:
                    break
        except KeyboardInterrupt:
            pass


def main() -> None:
    """The console script: the core's log lines go to stderr, never among what stdout prints."""
    global logs_to_stderr  # noqa: PLW0603 - set once, by the process's entry point
    logs_to_stderr = True
    cli(prog_name="wxcomponent")
