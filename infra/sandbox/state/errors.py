"""What every part of the world answers with: WeChat's JSON shape and its errcode error."""

from __future__ import annotations

import secrets
from typing import Any

JSON = dict[str, Any]


class WeChatError(Exception):
    """An answer `{"errcode": N, "errmsg": ...}`."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def answer(self) -> JSON:
        """WeChat appends a request id to every error's errmsg (`… rid: 6540a1b2-0c3e4f5a-1b2c3d4e`),
        so nothing may compare errmsg exactly."""
        rid = "-".join(secrets.token_hex(4) for _ in range(3))
        return {"errcode": self.errcode, "errmsg": f"{self.errmsg} rid: {rid}"}
