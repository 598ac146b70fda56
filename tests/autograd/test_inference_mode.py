"""inference_mode: no graph recorded (as no_grad), and only inference_mode(False) records
again inside it; as torch, checked side by side."""

import pytest
import torch

import zengrad as zg


@pytest.mark.parametrize("fw", [zg, torch])
def test_context_manager_records_nothing(fw):
    x = fw.ones(2, requires_grad=True)
    with fw.inference_mode():
        y = x * 2
        assert not fw.is_grad_enabled() and fw.is_inference_mode_enabled()
        with fw.enable_grad():  # can't turn recording back on inside inference mode
            assert not (x * 2).requires_grad
        with fw.inference_mode(False):
            z = x * 2
            assert z.requires_grad and fw.is_grad_enabled()
            assert not fw.is_inference_mode_enabled()
        assert fw.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not y.requires_grad and y.grad_fn is None
    assert fw.is_grad_enabled() and not fw.is_inference_mode_enabled()
    with fw.inference_mode(mode=False):
        assert (x * 2).requires_grad


@pytest.mark.parametrize("fw", [zg, torch])
def test_decorator_forms(fw):
    @fw.inference_mode
    def bare():
        return fw.is_grad_enabled(), fw.is_inference_mode_enabled()

    @fw.inference_mode()
    def called():
        return fw.is_grad_enabled()

    @fw.inference_mode(False)
    def off():
        return fw.is_grad_enabled()

    assert bare() == (False, True) and called() is False
    with fw.no_grad():
        assert off() is True  # inference_mode(False) records even inside no_grad
    assert fw.is_grad_enabled()


def test_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError), zg.inference_mode():
        raise ValueError("boom")
    assert zg.is_grad_enabled() and not zg.is_inference_mode_enabled()
    with pytest.raises(TypeError, match="mode must be a bool"):
        zg.inference_mode("yes")


def test_set_grad_enabled_inside_inference_mode_does_not_record():
    x = zg.ones(2, requires_grad=True)
    with zg.inference_mode():
        with zg.set_grad_enabled(True):
            assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
