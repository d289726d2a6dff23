"""The composition root: the one place that builds adapters and wires the services to them.

Entry points call `container()` first thing in every invocation: it reads and checks the settings
(`Settings.from_environment`, microseconds) and returns the object graph built for them, once per
container and per distinct settings. Tests build a `Container` themselves, with fakes for any
adapter they name (`Container(settings, wechat=FakeWeChat(), ...)`).

Each part is built on first use, and its module imported then too, so a function pays at cold
start for what it uses and nothing else.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from wxcomponent.settings import ComponentSettings, Settings

if TYPE_CHECKING:  # the imports below are made lazily, inside each part
    from wxcomponent.adapters.dynamodb import Table
    from wxcomponent.adapters.lambda_invoke import LambdaReplyFunction, LambdaTaskQueue
    from wxcomponent.ports import (
        AuthorizationStates,
        Authorizers,
        CodeClaims,
        EventPublisher,
        LeaseStore,
        MessageReceipts,
        ProfileStore,
        RefreshRuns,
        ReplyFunction,
        Stores,
        TokenStore,
        VerifyTicketStore,
        WeChatApi,
    )
    from wxcomponent.services.account_messages import AccountMessageService
    from wxcomponent.services.authorization import AuthorizationService
    from wxcomponent.services.authorizer_token import AuthorizerTokenService
    from wxcomponent.services.component_events import ComponentEventService
    from wxcomponent.services.component_token import ComponentTokenService
    from wxcomponent.services.js_tickets import JsTicketService
    from wxcomponent.services.migration import MigrationService
    from wxcomponent.services.refresher import Refresher
    from wxcomponent.services.release_tasks import ReleaseTasks
    from wxcomponent.services.tasks import TaskRunner
    from wxcomponent.services.vending import TokenVendor
    from wxcomponent.services.web_login import WebLoginService

# ruff: noqa: PLC0415 - lazy imports are this module's point (cold start)


class Container:
    """The object graph for one `Settings`. Adapters may be handed in; the rest is built here."""

    def __init__(
        self,
        settings: Settings,
        *,
        stores: Stores | None = None,
        wechat: WeChatApi | None = None,
        publisher: EventPublisher | None = None,
        tasks: LambdaTaskQueue | None = None,
        reply_function: ReplyFunction | None = None,
        refresh_runs: RefreshRuns | None = None,
        component: Callable[[], ComponentSettings] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._stores = stores
        self._wechat = wechat
        self._publisher = publisher
        self._tasks = tasks
        self._reply_function = reply_function
        self._refresh_runs = refresh_runs
        self.component: Callable[[], ComponentSettings] = component or settings.component
        self.clock = clock

    # -- adapters --------------------------------------------------------------------------------

    @cached_property
    def stores(self) -> Stores:
        """Every store over one table and one client."""
        if self._stores is not None:
            return self._stores
        from wxcomponent.adapters.dynamodb import Tables

        return Tables.on(self._table)

    @cached_property
    def _table(self) -> Table:
        """The table's name and its one boto3 client, shared by every store."""
        from wxcomponent.adapters.dynamodb import Table

        return Table(self.settings.table_name)

    @cached_property
    def refresh_runs(self) -> RefreshRuns:
        """The last refresher run's record (the refresher writes it, operators read it)."""
        if self._refresh_runs is not None:
            return self._refresh_runs
        from wxcomponent.adapters.dynamodb.refresh_runs import RefreshRunTable

        return RefreshRunTable(self._table)

    @property
    def verify_tickets(self) -> VerifyTicketStore:
        return self.stores.verify_tickets

    @property
    def tokens(self) -> TokenStore:
        return self.stores.tokens

    @property
    def authorizers(self) -> Authorizers:
        return self.stores.authorizers

    @property
    def profiles(self) -> ProfileStore:
        return self.stores.profiles

    @property
    def code_claims(self) -> CodeClaims:
        return self.stores.code_claims

    @property
    def authorization_states(self) -> AuthorizationStates:
        return self.stores.authorization_states

    @property
    def leases(self) -> LeaseStore:
        return self.stores.leases

    @property
    def receipts(self) -> MessageReceipts:
        return self.stores.receipts

    @cached_property
    def wechat(self) -> WeChatApi:
        if self._wechat is not None:
            return self._wechat
        from wxcomponent.adapters.wechat_http import WeChatHttpApi

        return WeChatHttpApi(
            self.settings.api_base,
            fallback_urls=self.settings.api_fallbacks,
            whitelist_ips=self.settings.whitelist_ips,
        )

    @cached_property
    def publisher(self) -> EventPublisher:
        if self._publisher is not None:
            return self._publisher
        from wxcomponent.adapters.eventbridge import EventBridgePublisher

        return EventBridgePublisher(self.settings.event_bus_name)

    @cached_property
    def tasks(self) -> LambdaTaskQueue:
        """This function's own asynchronous invocations; the entry point names the function."""
        if self._tasks is not None:
            return self._tasks
        from wxcomponent.adapters.lambda_invoke import LambdaTaskQueue

        return LambdaTaskQueue(self.settings.tasks_function)

    def reply_function(self) -> ReplyFunction | None:
        if self._reply_function is not None:
            return self._reply_function
        return self._configured_reply_function

    @cached_property
    def _configured_reply_function(self) -> LambdaReplyFunction | None:
        if not self.settings.message_reply_function:
            return None
        from wxcomponent.adapters.lambda_invoke import LambdaReplyFunction

        return LambdaReplyFunction(self.settings.message_reply_function)

    # -- services --------------------------------------------------------------------------------

    @cached_property
    def component_tokens(self) -> ComponentTokenService:
        from wxcomponent.services.component_token import ComponentTokenService

        return ComponentTokenService(
            self.verify_tickets,
            self.tokens,
            self.leases,
            self.stores.failures,
            self.wechat,
            component=self.component,
            clock=self.clock,
        )

    @cached_property
    def authorizer_tokens(self) -> AuthorizerTokenService:
        from wxcomponent.services.authorizer_token import AuthorizerTokenService

        return AuthorizerTokenService(
            self.authorizers,
            self.wechat,
            self.component_tokens,
            self.publisher,
            component=self.component,
            clock=self.clock,
            refresh_margin=self.settings.refresh_margin,
        )

    @cached_property
    def js_tickets(self) -> JsTicketService:
        from wxcomponent.services.js_tickets import JsTicketService

        return JsTicketService(
            self.stores.js_tickets,
            self.leases,
            self.stores.failures,
            self.wechat,
            self.authorizer_tokens,
            clock=self.clock,
            refresh_margin=self.settings.refresh_margin,
        )

    @cached_property
    def authorizations(self) -> AuthorizationService:
        from wxcomponent.services.authorization import AuthorizationService

        return AuthorizationService(
            self.authorizers,
            self.profiles,
            self.code_claims,
            self.wechat,
            self.component_tokens,
            self.publisher,
            states=self.authorization_states,
            component=self.component,
            clock=self.clock,
            refresh_margin=self.settings.refresh_margin,
            mp_base=self.settings.mp_base,
            open_base=self.settings.open_base,
            tasks=self.tasks,
        )

    @cached_property
    def migrations(self) -> MigrationService:
        """Moving a live platform here (the operator CLI's `migrate`)."""
        from wxcomponent.services.migration import MigrationService

        return MigrationService(
            self.authorizers,
            self.profiles,
            self.wechat,
            self.component_tokens,
            self.publisher,
            component=self.component,
            clock=self.clock,
        )

    @cached_property
    def component_events(self) -> ComponentEventService:
        from wxcomponent.services.component_events import ComponentEventService

        return ComponentEventService(
            self.verify_tickets, self.authorizations, tasks=self.tasks, component=self.component, clock=self.clock
        )

    @cached_property
    def account_messages(self) -> AccountMessageService:
        from wxcomponent.services.account_messages import AccountMessageService

        return AccountMessageService(
            self.receipts,
            self.authorizers,
            self.publisher,
            self.tasks,
            reply_function=self.reply_function,
            component=self.component,
            clock=self.clock,
        )

    @cached_property
    def release_tasks(self) -> ReleaseTasks:
        from wxcomponent.services.release_tasks import ReleaseTasks

        return ReleaseTasks(self.authorizations, self.authorizer_tokens, self.wechat)

    @cached_property
    def task_runner(self) -> TaskRunner:
        from wxcomponent.services.tasks import TaskRunner

        return TaskRunner(self.authorizations, self.release_tasks)

    @cached_property
    def vendor(self) -> TokenVendor:
        from wxcomponent.services.vending import TokenVendor

        return TokenVendor(
            self.component_tokens,
            self.authorizer_tokens,
            clock=self.clock,
            js_tickets=self.js_tickets,
            web_logins=self.web_logins,
            component=self.component,
        )

    @cached_property
    def web_logins(self) -> WebLoginService:
        """Web login's code exchange, which needs the component token and so stays in here."""
        from wxcomponent.services.web_login import WebLoginService

        return WebLoginService(self.authorizers, self.wechat, self.component_tokens, component=self.component)

    @cached_property
    def refresher(self) -> Refresher:
        from wxcomponent.services.refresher import Refresher

        return Refresher(
            self.verify_tickets,
            self.authorizers,
            self.wechat,
            self.component_tokens,
            self.authorizer_tokens,
            js_tickets=self.js_tickets,
            component=self.component,
            clock=self.clock,
            parallelism=self.settings.refresh_parallelism,
            refresh_margin=self.settings.refresh_margin,
        )


def run_task(event: object, function_arn: str) -> dict[str, Any] | None:
    """An asynchronous invocation of our own carries a task: runs it (any further task it defers
    goes to `function_arn`, this same function). None for any other event."""
    if not isinstance(event, dict) or "task" not in event or "requestContext" in event:
        return None
    wx = container()
    wx.tasks.function_name = function_arn
    return wx.task_runner.run(event)


def container() -> Container:
    """The settings, checked now (a `ConfigurationError` names every problem), and the graph for them."""
    return _container_for(Settings.from_environment())


@functools.lru_cache(maxsize=4)
def _container_for(settings: Settings) -> Container:
    return Container(settings)


def forget() -> None:
    """Drops every cached graph (tests that swap the environment under a loaded handler)."""
    _container_for.cache_clear()
