"""ops.blas_threads: BLAS held to one thread while zengrad's chunks run, and restored after."""

from __future__ import annotations

import numpy as np
import pytest

from zengrad.ops import blas_threads, threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


def test_one_blas_thread_holds_and_restores():
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert _blas_threads() == [2] * len(_blas_threads())
        with blas_threads.one_blas_thread():
            assert set(_blas_threads()) == {1}
            with blas_threads.one_blas_thread():  # nested: still one, and no error
                assert set(_blas_threads()) == {1}
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == [2] * len(_blas_threads())


def test_one_blas_thread_restores_after_an_error():
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with pytest.raises(ZeroDivisionError), blas_threads.one_blas_thread():
            raise ZeroDivisionError
        assert _blas_threads() == [2] * len(_blas_threads())


@pytest.mark.parametrize("n_threads", [1, 2])
def test_over_threads_covers_every_chunk_once(n_threads):
    before = threads.get_num_threads()
    try:
        threads.set_num_threads(n_threads)
        a = np.arange(103.0).reshape(103, 1)
        out = np.zeros_like(a)
        seen = []

        def chunk(x, o):
            seen.append(x.shape[0])
            o[...] = x @ np.ones((1, 1))  # a product inside a chunk

        blas_threads.over_threads(chunk, [a, out], 25)
        assert sorted(seen) == [3, 25, 25, 25, 25]
        np.testing.assert_array_equal(out, a)
    finally:
        threads.set_num_threads(before)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_small_product_holds_only_small_products_at_several_threads(n_threads):
    """One BLAS thread for products from BLAS_ONE_THREAD_MACS to below SMALL_PRODUCT_MACS
    multiply-adds while zengrad runs several threads; BLAS's own count otherwise."""
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    before = threads.get_num_threads()
    try:
        threads.set_num_threads(n_threads)
        with threadpoolctl.threadpool_limits(2, user_api="blas"):
            for macs, held in [(blas_threads.BLAS_ONE_THREAD_MACS - 1, False),
                               (blas_threads.BLAS_ONE_THREAD_MACS, True),
                               (blas_threads.SMALL_PRODUCT_MACS - 1, True),
                               (blas_threads.SMALL_PRODUCT_MACS, False)]:
                with blas_threads.small_product(macs):
                    inside = set(_blas_threads())
                assert inside == ({1} if held and n_threads > 1 else {2}), macs
                assert set(_blas_threads()) == {2}
    finally:
        threads.set_num_threads(before)
