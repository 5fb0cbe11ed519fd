"""Run a function in several threads at once (released together by a barrier), each thread with
its own database connection, closed at the end; returns the results in completion order."""
from __future__ import annotations

import threading

from consent.core import storage


def together(count: int, fn, timeout: float = 60.0) -> list:
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(repr(exc))
        finally:
            storage.db.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not errors, errors
    return results
