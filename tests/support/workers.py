"""Work run in other processes (each its own "Lambda container"), started with spawn."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any


def vend_component_tokens(barrier: Barrier, results: Queue[list[str]], threads: int, min_validity: float) -> None:
    """`threads` concurrent callers in this process, released together with the other processes."""
    from tests.support.graph import graph

    service = graph().component_tokens
    local = threading.Barrier(threads)

    def one() -> str:
        local.wait(timeout=30)
        return service.token(min_validity).access_token

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(threads) as pool:
        results.put(list(pool.map(lambda _: one(), range(threads))))


def run_in_processes(target: Callable[..., None], processes: int, *args: Any) -> list[Any]:
    """Runs `target(barrier, results, *args)` in `processes` spawned processes (each its own
    "container"), released together by the barrier; returns what each put on `results`."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results: Queue[Any] = context.Queue()
    workers = [context.Process(target=target, args=(barrier, results, *args)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return collected
