"""Many requests at once: each on its own thread and test client (so its own app context,
database session and connection), all released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from tests.conftest import Api


def in_parallel(app, calls: Sequence[tuple[Api, Callable[[Api], Any]]]) -> list[Any]:
    """Run ``call(api)`` for each (signed-in api, call) pair at the same moment, each with a
    fresh client carrying that api's token; returns the results in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    failures: list[BaseException] = []

    def run(i: int, api: Api, call: Callable[[Api], Any]) -> None:
        own = Api(app.test_client(), api.token, api.username)
        barrier.wait()
        try:
            results[i] = call(own)
        except BaseException as exc:  # surfaced in the test's thread below
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, api, call)) for i, (api, call) in enumerate(calls)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return results


def codes(responses) -> list[int]:
    return sorted(r.status_code for r in responses)
