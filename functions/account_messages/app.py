"""POST /wechat/accounts/{appid}/messages: what users send to authorized accounts (the
message-and-event URL, where WeChat fills `$APPID$` with the account's appid).

Two entry points, one handler: the HTTP route, and this function's own asynchronous invocations,
which carry work that must happen after WeChat has its answer (a Lambda is frozen once it answers).
The object graph comes from the composition root (`wxcomponent.bootstrap`), settings checked first.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container, run_task
from wxcomponent.domain.signed import SignedPush
from wxcomponent.observability import logger, metrics
from wxcomponent.web.http import error_response, raw_body

app = APIGatewayHttpResolver()


@app.post("/wechat/accounts/<appid>/messages")
def account_messages(appid: str) -> Response[str]:
    wx = container()
    wx.tasks.function_name = app.lambda_context.invoked_function_arn  # where work after the answer goes
    event = app.current_event
    push = SignedPush.from_query(
        raw_body(event.body, bool(event.is_base64_encoded)), event.query_string_parameters or {}
    )
    answer = wx.account_messages.handle(appid, push)
    return Response(200, answer.content_type, answer.body)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def handle_error(error: Exception) -> Response[str]:
    return error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = run_task(event, context.invoked_function_arn)  # work after an answer, in its own invocation
    if task is not None:
        return task
    return app.resolve(event, context)
