"""zengrad.ops.threads' own workers: a job runs once (by a worker, or never when the caller
cancels it first) and a new thread count replaces the workers."""

import threading
import time

import numpy as np

from zengrad.ops import threads


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("zengrad-ew")]


def test_a_job_runs_once_or_is_cancelled_unstarted():
    pool = threads.WorkerPool(1)
    ran = []
    try:
        started = threading.Event()
        hold = threading.Event()
        first = threads.Job(lambda: (started.set(), hold.wait(10), ran.append("first")))
        second = threads.Job(lambda: ran.append("second"))
        pool.post(0, first)
        pool.post(0, second)  # queued behind the first
        assert started.wait(10)
        assert not first.cancel()  # running: it cannot be cancelled
        assert second.cancel()  # not started: cancelled, the worker will skip it
        hold.set()
        first.wait()
        third = threads.Job(lambda: ran.append("third"))
        pool.post(0, third)
        deadline = time.monotonic() + 10
        while "third" not in ran and time.monotonic() < deadline:
            time.sleep(0.001)
        assert not third.cancel()
        third.wait()
        assert ran == ["first", "third"]
    finally:
        pool.shutdown()


def test_a_new_thread_count_replaces_the_workers(two_threads):
    a = np.ones(64)
    threads.for_blocks(np.sqrt, [a], block=8, least=1)  # the pool exists now
    assert len(_workers()) >= 1
    threads.set_num_threads(3)
    threads.for_blocks(np.sqrt, [a], block=8, least=1)
    deadline = time.monotonic() + 10
    while len(_workers()) != 2 and time.monotonic() < deadline:  # the old one exits
        time.sleep(0.01)
    assert len(_workers()) == 2

