"""zengrad.set_num_threads / get_num_threads, as torch's."""

import subprocess
import sys

import pytest

import zengrad


def test_set_num_threads_sets_zengrads_and_blas_threads():
    code = (
        "import zengrad; from threadpoolctl import threadpool_info\n"
        "zengrad.set_num_threads(1)\n"
        "assert zengrad.get_num_threads() == 1\n"
        "blas = [i for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "assert blas and all(i['num_threads'] == 1 for i in blas), blas\n"
    )
    pytest.importorskip("threadpoolctl")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="set_num_threads expects"):
        torch.set_num_threads(bad)
    with pytest.raises(RuntimeError, match="set_num_threads expects"):
        zengrad.set_num_threads(bad)
