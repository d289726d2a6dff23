"""The calls WeChat answered with an error, kept by rid for getRidInfo (docs/sandbox.md, "Quotas
and rids"): 7 days by the sandbox's clock, as WeChat keeps them ("rid的有效期只有7天"), and at
most RID_LIMIT of them (the oldest go first), so a long `make dev` never grows without bound.

A record is what WeChat shows: the query string and the body as they came (tokens and all: hiding
them is the caller's job), the answer as sent, the caller's address, and whose call it was (the
component's appid, an authorizer's, or None when its token named nobody), which decides who may
look it up. Not saved across restarts: a record, like the call log.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from infra.sandbox.state.clock import Clock

RID_TTL = 7 * 24 * 3600
RID_LIMIT = 20000
RID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")
_RID_IN_ERRMSG = re.compile(r"\brid:\s*([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})\s*$")
SNS = "/sns/"  # the owner of a web-login call: getRidInfo refuses those (76022)


def new_rid() -> str:
    """WeChat's shape: three groups of 8 hex digits."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def rid_in(errmsg: str) -> str | None:
    found = _RID_IN_ERRMSG.search(errmsg)
    return found.group(1) if found else None


@dataclass(frozen=True)
class RidRecord:
    rid: str
    api: str
    owner: str | None
    invoke_time: float
    cost_in_ms: int
    request_url: str
    request_body: str
    response_body: str
    client_ip: str

    def request(self) -> dict[str, object]:
        """getRidInfo's `request` object."""
        return {
            "invoke_time": int(self.invoke_time),
            "cost_in_ms": self.cost_in_ms,
            "request_url": self.request_url,
            "request_body": self.request_body,
            "response_body": self.response_body,
            "client_ip": self.client_ip,
        }


class Rids:
    """Records by rid, oldest first, behind one lock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, RidRecord] = OrderedDict()

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

    def record(self, record: RidRecord) -> None:
        with self._lock:
            self._records[record.rid] = record
            while len(self._records) > RID_LIMIT:
                self._records.popitem(last=False)

    def lookup(self, rid: str) -> RidRecord | None:
        """The record, unless it is unknown or older than 7 days (then forgotten)."""
        with self._lock:
            record = self._records.get(rid)
            if record is not None and self._clock.now() - record.invoke_time >= RID_TTL:
                del self._records[rid]
                return None
            return record

    def count(self) -> int:
        with self._lock:
            return len(self._records)
