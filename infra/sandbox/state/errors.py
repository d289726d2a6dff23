"""What every part of the world answers with: WeChat's JSON shape and its errcode error."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class WeChatError(Exception):
    """An answer `{"errcode": N, "errmsg": ...}`."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def answer(self) -> JSON:
        return {"errcode": self.errcode, "errmsg": self.errmsg}
