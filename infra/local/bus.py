"""`make dev`'s window on the bus: a rule sends every event of ours to a queue in the emulator, and
one line per event goes to the console (its type, the account, the message's type; never its
content). In AWS the vendor subscribes to the bus with rules of their own."""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any

import boto3

QUEUE = "wxcomponent-local-bus-tail"
RULE = "wxcomponent-local-bus-tail"


class BusTail:
    def __init__(self, emulator_url: str, bus_name: str, out: IO[str] | None = None) -> None:
        self._events = boto3.client("events", endpoint_url=emulator_url, region_name="us-east-1")
        self._sqs = boto3.client("sqs", endpoint_url=emulator_url, region_name="us-east-1")
        self._bus = bus_name
        self._out = out or sys.stdout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bus-tail", daemon=True)
        self._queue_url = ""

    def start(self) -> BusTail:
        self._queue_url = self._sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._events.put_rule(Name=RULE, EventBusName=self._bus, EventPattern=json.dumps({"source": ["wxcomponent"]}))
        self._events.put_targets(Rule=RULE, EventBusName=self._bus, Targets=[{"Id": "console", "Arn": arn}])
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self._sqs.receive_message(QueueUrl=self._queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
            except Exception as exc:  # noqa: BLE001 - the emulator is going away with the stack
                if not self._stop.is_set():
                    self._out.write(f"bus: tail stopped ({type(exc).__name__})\n")
                return
            for message in answer.get("Messages", []):
                self._out.write(describe(json.loads(message["Body"])) + "\n")
                self._out.flush()
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


def describe(event: dict[str, Any]) -> str:
    """One console line for one bus event, with nothing a user wrote in it."""
    detail = event.get("detail") or {}
    parts = [f"bus: {event.get('detail-type')}"]
    if detail.get("authorizer_appid"):
        parts.append(f"for {detail['authorizer_appid']}")
    if detail.get("MsgType"):
        parts.append(f"MsgType={detail['MsgType']}")
    if detail.get("Event"):
        parts.append(f"Event={detail['Event']}")
    return " ".join(parts)
