"""Work run in other processes (each its own "Lambda container"), started with spawn."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier


def vend_component_tokens(barrier: Barrier, results: Queue[list[str]], threads: int, min_validity: float) -> None:
    """`threads` concurrent callers in this process, released together with the other processes."""
    from wxcomponent.adapters.dynamodb import DynamoDBStore
    from wxcomponent.adapters.wechat_http import WeChatHttpApi
    from wxcomponent.component_token import ComponentTokenService

    store = DynamoDBStore()
    service = ComponentTokenService(store, WeChatHttpApi())
    local = threading.Barrier(threads)

    def one() -> str:
        local.wait(timeout=30)
        return service.token(min_validity).access_token

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(threads) as pool:
        results.put(list(pool.map(lambda _: one(), range(threads))))
