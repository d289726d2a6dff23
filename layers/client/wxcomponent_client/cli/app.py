"""The operator CLI, `wxcomponent` (docs/operator-cli.md): a deployed stack (`--stack NAME`, with the
caller's AWS credentials) or `make dev`'s (`--local`). Tables on a terminal, JSON with `--json`."""

from __future__ import annotations

import os
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
from wxcomponent_client.cli.follow import LOCAL_POLL, LONG_POLL, BusFollower, describe
from wxcomponent_client.cli.inventory import Authorizer, Inventory, read_inventory
from wxcomponent_client.cli.reconcile import Reconciliation, reconcile
from wxcomponent_client.cli.target import Target, core_importable, local_target, stack_target
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
    ticket = wx.tickets.get_ticket(appid)
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
    data["problems"] = _problems(data)
    o.out.emit(data, lambda console: _render_status(console, data))


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
    before = wx.tickets.get_ticket(component.component_appid)
    wx.wechat.start_push_ticket(component.component_appid, component.component_appsecret)
    arrived = None
    deadline = time.monotonic() + wait
    while wait > 0:
        ticket = wx.tickets.get_ticket(component.component_appid)
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
