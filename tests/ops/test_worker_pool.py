"""zengrad.ops.threads' own workers: a job runs once (by a worker, or never when the caller
cancels it first), a new thread count replaces the workers, and for_tasks runs every task
once, in one split, re-raising a task's error."""

import threading
import time

import numpy as np
import pytest

from zengrad.ops import threads


@pytest.fixture
def two_threads():
    before = threads.get_num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(before)


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
    threads.for_tasks([(np.sqrt, (np.ones(10),))] * 4, 1 << 30)  # the pool exists now
    assert len(_workers()) >= 1
    threads.set_num_threads(3)
    threads.for_tasks([(np.sqrt, (np.ones(10),))] * 4, 1 << 30)
    deadline = time.monotonic() + 10
    while len(_workers()) != 2 and time.monotonic() < deadline:  # the old one exits
        time.sleep(0.01)
    assert len(_workers()) == 2


def test_for_tasks_runs_each_task_once_in_any_thread(two_threads):
    seen = []
    out = np.zeros(64)

    def task(i):
        out[i] += 1
        seen.append(threading.current_thread().name)

    threads.for_tasks([(task, (i,)) for i in range(64)], 1 << 30)
    np.testing.assert_array_equal(out, np.ones(64))
    threads.set_num_threads(1)
    seen.clear()
    threads.for_tasks([(task, (i,)) for i in range(64)], 1 << 30)
    assert set(seen) == {threading.current_thread().name}  # one thread: all in the caller
    np.testing.assert_array_equal(out, 2 * np.ones(64))


def test_for_tasks_reraises_and_below_least_runs_in_the_caller(two_threads):
    def fail():
        raise KeyError("task")

    with pytest.raises(KeyError, match="task"):
        threads.for_tasks([(time.sleep, (0.001,))] * 3 + [(fail, ())], 1 << 30)
    names = []
    threads.for_tasks([(lambda: names.append(threading.current_thread().name), ())] * 8,
                      size=10, least=100)
    assert set(names) == {threading.current_thread().name}
