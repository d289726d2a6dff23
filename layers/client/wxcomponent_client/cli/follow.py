"""`events --follow`: the bus's events as they arrive, through a rule and a queue of the CLI's own.

EventBridge keeps no history and offers no "tail": the CLI puts a rule on the stack's bus that sends
every event of ours (`source: wxcomponent`) to a new SQS queue, long-polls the queue, and deletes
both when it stops (Ctrl-C, `--max-events`, `--timeout`). Both are named `wxcomponent-cli-<random>`;
a CLI killed outright (SIGKILL) leaves them behind, harmless, to delete by that name. Cost: the rule
is free; events sent to it are EventBridge's custom-event charge, already paid by the publisher; the
queue costs one request per long poll (20 s) and one per message, inside SQS's free tier for any
human session. `make dev` runs the same code against the emulator with short polls (no wait) half
a second apart instead: the emulator serves one request at a time, and a long poll would hold up
every other request of the stack for its whole wait.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from wxcomponent_client.cli import output

PATTERN = {"source": ["wxcomponent"]}
LONG_POLL = 20  # seconds, SQS's longest
LOCAL_POLL = 0  # seconds: short polls against the local emulator (see above)
LOCAL_IDLE = 0.5  # seconds between two short polls that found nothing
RETENTION = 300  # seconds: events nobody reads are not worth keeping


class BusFollower:
    def __init__(self, events: Any, sqs: Any, bus_name: str, *, poll: int = LONG_POLL) -> None:
        self._poll = poll
        self._idle = LOCAL_IDLE if poll == 0 else 0.0
        self._events = events
        self._sqs = sqs
        self.bus_name = bus_name
        self.name = f"wxcomponent-cli-{uuid.uuid4().hex[:12]}"
        self._queue_url = ""
        self._rule = False

    def __enter__(self) -> BusFollower:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _start(self) -> None:
        self._queue_url = self._sqs.create_queue(
            QueueName=self.name, Attributes={"MessageRetentionPeriod": str(RETENTION)}
        )["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = self._events.put_rule(
            Name=self.name,
            EventBusName=self.bus_name,
            EventPattern=json.dumps(PATTERN),
            Description="wxcomponent events --follow (deleted when the CLI stops)",
        )["RuleArn"]
        self._rule = True
        # Only this rule may send to this queue.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        self._sqs.set_queue_attributes(QueueUrl=self._queue_url, Attributes={"Policy": json.dumps(policy)})
        self._events.put_targets(
            Rule=self.name, EventBusName=self.bus_name, Targets=[{"Id": "wxcomponent-cli", "Arn": queue_arn}]
        )

    def events(self, *, deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """Events as they arrive, until `deadline` (monotonic), if any."""
        while deadline is None or time.monotonic() < deadline:
            wait = self._poll if deadline is None else max(0, min(self._poll, int(deadline - time.monotonic())))
            answer = self._sqs.receive_message(QueueUrl=self._queue_url, WaitTimeSeconds=wait, MaxNumberOfMessages=10)
            if not answer.get("Messages") and self._idle:
                time.sleep(self._idle)  # the pace of short polls; SQS itself waits in a long poll
            for message in answer.get("Messages", []):
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(message["Body"])
                if isinstance(event, dict):
                    yield event

    def close(self) -> None:
        """Removes what `_start` made, each part on its own: one failure must not leave the rest."""
        if self._rule:
            with suppress(Exception):
                self._events.remove_targets(Rule=self.name, EventBusName=self.bus_name, Ids=["wxcomponent-cli"])
            with suppress(Exception):
                self._events.delete_rule(Name=self.name, EventBusName=self.bus_name)
            self._rule = False
        if self._queue_url:
            with suppress(Exception):
                self._sqs.delete_queue(QueueUrl=self._queue_url)
            self._queue_url = ""


def describe(event: dict[str, Any]) -> str:
    """One line for one event: its type, the account, a message's type; never what a user wrote."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parts = [output.safe(event.get("time", "")), f"[bold]{output.safe(event.get('detail-type', '?'))}[/bold]"]
    for key in ("authorizer_appid", "MsgType", "Event", "errcode"):
        if detail.get(key) not in (None, ""):
            parts.append(f"{key}={output.safe(detail[key])}")
    return "  ".join(part for part in parts if part)
