"""POST /wechat/component/events: WeChat's pushes to the authorization-event URL.

The entry point only turns the event into a `SignedPush` and the answer into a response; the
object graph comes from the composition root (`wxcomponent.bootstrap`), settings checked first.
Its own asynchronous invocations carry the work after the answer: the exchange of a pushed code,
a profile fetched later (also for the authorization pages), the release check's second half.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wxcomponent.bootstrap import container, run_task
from wxcomponent.domain.signed import SignedPush
from wxcomponent.observability import logger, metrics
from wxcomponent.web.http import error_response
from wxcomponent.web.router import TEXT_PLAIN, Response, Router

app = Router()


@app.post("/wechat/component/events")
def component_events() -> Response:
    wx = container()
    wx.tasks.function_name = app.lambda_context.invoked_function_arn  # the exchange runs in our next invocation
    service = wx.component_events
    event = app.current_event
    push = SignedPush.from_query(event.body, event.query)
    return Response(200, TEXT_PLAIN, service.handle(push))


@app.exception_handler
def handle_error(error: Exception) -> Response:
    return error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = run_task(event, context.invoked_function_arn)  # work after an answer, in its own invocation
    if task is not None:
        return task
    return app.resolve(event, context)
