"""Every event on a test's bus, through a rule to a queue in the emulator (as a vendor would)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Self

import boto3


@dataclass
class BusQueue:
    sqs: Any
    url: str

    @classmethod
    def subscribed(cls, event_bus: str, queue: str) -> Self:
        """A queue named `queue`, subscribed to everything we publish on `event_bus`, in the
        emulator the test's boto3 clients use."""
        endpoint = boto3.client("dynamodb").meta.endpoint_url
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        events = boto3.client("events", endpoint_url=endpoint)
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=event_bus, EventPattern=json.dumps({"source": ["wxcomponent"]}))
        events.put_targets(Rule="all", EventBusName=event_bus, Targets=[{"Id": "q", "Arn": arn}])
        return cls(sqs, url)

    def drain(self) -> list[dict[str, Any]]:
        """The events queued so far, in order, each taken off the queue."""
        events: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
