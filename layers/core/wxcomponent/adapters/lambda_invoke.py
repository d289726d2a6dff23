"""Lambda Invoke, twice: our own function asynchronously (work after the answer, `TaskQueue`) and
the vendor's reply function synchronously within a deadline (`ReplyFunction`).

Clients are made on first use. Locally `AWS_ENDPOINT_URL_LAMBDA` points boto3 at the local
gateway, which speaks Lambda's Invoke API.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# botocore counts `max_attempts` as retries; `total_max_attempts` is what it says.
TASK_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"})
TIMEOUT_STEP = 0.25  # reply clients are made per quarter second of deadline, so a container keeps a few at most


class InvokeFailed(RuntimeError):
    """Lambda refused the invocation, or the function raised."""


class LambdaTaskQueue:
    """Hands a task to another invocation of this same function (InvocationType Event); Lambda
    keeps it, and retries it twice if that invocation raises. The function's own name or ARN is
    known only once an invocation runs: the entry point sets `function_name` from its context."""

    def __init__(self, function_name: str = "", client: LambdaClient | None = None) -> None:
        self.function_name = function_name
        self._client = client

    @property
    def client(self) -> LambdaClient:
        if self._client is None:
            self._client = boto3.client("lambda", config=TASK_CLIENT_CONFIG)
        return self._client

    def defer(self, task: dict[str, Any]) -> None:
        if not self.function_name:
            raise InvokeFailed("the task queue does not know its function yet")
        answer = self.client.invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(task).encode("utf-8")
        )
        if answer.get("StatusCode") != 202:
            raise InvokeFailed(f"Lambda answered {answer.get('StatusCode')} to an asynchronous invocation")


class LambdaReplyFunction:
    """The vendor's reply function, invoked synchronously; its answer is read as JSON."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._clients: dict[float, LambdaClient] = {}

    def ask(self, request: dict[str, Any], timeout: float) -> object:
        answer = self._client(_step_down(timeout)).invoke(
            FunctionName=self.function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(request, ensure_ascii=False).encode("utf-8"),
        )
        if answer.get("FunctionError"):
            raise InvokeFailed(f"the reply function failed ({answer['FunctionError']})")
        try:
            return json.loads(answer["Payload"].read() or b"null")
        except ValueError as exc:
            raise InvokeFailed("the reply function's answer is not JSON") from exc

    def _client(self, read_timeout: float) -> LambdaClient:
        """One client per deadline step, kept by this instance (so by one container's graph). No
        retries: a retry could not fit in WeChat's wait, and the function may not be idempotent."""
        if read_timeout not in self._clients:
            config = Config(
                connect_timeout=min(1.0, read_timeout),
                read_timeout=read_timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},
            )
            self._clients[read_timeout] = boto3.client("lambda", config=config)
        return self._clients[read_timeout]


def _step_down(timeout: float) -> float:
    return max(TIMEOUT_STEP, int(timeout / TIMEOUT_STEP) * TIMEOUT_STEP)
