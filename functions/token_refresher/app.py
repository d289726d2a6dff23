"""The EventBridge schedule's target: one refresh sweep per run (see wxcomponent.refresher)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent import settings as config
from wxcomponent.adapters.dynamodb import REFRESH_SHARDS, DynamoDBStore
from wxcomponent.adapters.eventbridge import EventBridgePublisher
from wxcomponent.adapters.wechat_http import WeChatHttpApi
from wxcomponent.authorizer_token import AuthorizerTokenService
from wxcomponent.component_token import ComponentTokenService
from wxcomponent.observability import logger, metrics, tracer
from wxcomponent.refresher import Refresher

store = DynamoDBStore()
wechat = WeChatHttpApi()
component_tokens = ComponentTokenService(store, wechat)
authorizer_tokens = AuthorizerTokenService(store, wechat, component_tokens, EventBridgePublisher())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refresher = Refresher(
        store,
        wechat,
        component_tokens,
        authorizer_tokens,
        shards=[str(shard) for shard in range(REFRESH_SHARDS)],
        parallelism=config.refresh_parallelism(),
    )
    report = refresher.sweep(context.get_remaining_time_in_millis)
    return {**asdict(report), "failed": dict(report.failed)}
