"""POST /wechat/component/events: WeChat's pushes to the authorization-event URL.

The entry point only turns the event into a `SignedPush` and the answer into a response; the
object graph comes from the composition root (`wxcomponent.bootstrap`), settings checked first.
Its own asynchronous invocations carry the work after the answer: the exchange of a pushed code,
a profile fetched later (also for the authorization pages), the release check's second half.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container, run_task
from wxcomponent.domain.signed import SignedPush
from wxcomponent.observability import logger, metrics
from wxcomponent.web.http import error_response, raw_body

app = APIGatewayHttpResolver()


@app.post("/wechat/component/events")
def component_events() -> Response[str]:
    wx = container()
    wx.tasks.function_name = app.lambda_context.invoked_function_arn  # the exchange runs in our next invocation
    service = wx.component_events
    event = app.current_event
    push = SignedPush.from_query(
        raw_body(event.body, bool(event.is_base64_encoded)), event.query_string_parameters or {}
    )
    return Response(200, content_types.TEXT_PLAIN, service.handle(push))


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
