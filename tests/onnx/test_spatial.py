"""Image ops through export + onnxruntime: transposed convolutions, group norm,
interpolate, border padding and pixel shuffle, with a dynamic batch."""

from __future__ import annotations

import pytest

import zengrad as zg
import zengrad.nn.functional as F
from tests.onnx.conftest import check_export
from zengrad import nn

BATCH = {"in0": {0: "n"}}


class Fn(nn.Module):
    def __init__(self, fn, **layers) -> None:
        super().__init__()
        self.fn = fn
        for name, layer in layers.items():
            setattr(self, name, layer)

    def forward(self, x):
        return self.fn(self, x)


def _check(model, shape, tmp_path):
    zg.manual_seed(3)
    check_export(model, (zg.randn(*shape),), [(zg.randn(5, *shape[1:]),),
                                              (zg.randn(1, *shape[1:]),)],
                 tmp_path, dynamic_axes=BATCH)


@pytest.mark.parametrize("kwargs", [
    {"stride": 2, "padding": 1, "output_padding": 1},
    {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 2},
    {"stride": 3, "padding": 0, "bias": False},
    {"stride": 1, "padding": 0},
])
def test_conv_transpose2d(tmp_path, kwargs):
    zg.manual_seed(0)
    conv = nn.ConvTranspose2d(4, 6, 3, **kwargs)
    _check(Fn(lambda m, x: m.conv(x), conv=conv), (2, 4, 5, 6), tmp_path)


def test_conv_transpose1d_and_output_size(tmp_path):
    zg.manual_seed(0)
    conv = nn.ConvTranspose1d(4, 3, 3, stride=3, padding=2, output_padding=1)
    _check(Fn(lambda m, x: m.conv(x), conv=conv), (2, 4, 7), tmp_path)
    up = nn.ConvTranspose2d(4, 2, 2, stride=2)
    _check(Fn(lambda m, x: m.up(x, output_size=(11, 9)), up=up), (2, 4, 5, 4), tmp_path)


def test_conv_transpose_dynamic_image_size(tmp_path):
    zg.manual_seed(0)
    conv = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
    check_export(Fn(lambda m, x: m.conv(x), conv=conv), (zg.randn(2, 3, 4, 5),),
                 [(zg.randn(3, 3, 7, 2),)], tmp_path,
                 dynamic_axes={"in0": {0: "n", 2: "h", 3: "w"}})


@pytest.mark.parametrize("shape,groups,affine", [((2, 6, 4, 5), 3, True),
                                                 ((2, 4, 7), 2, False), ((2, 4, 3), 4, True)])
def test_group_norm(tmp_path, shape, groups, affine):
    zg.manual_seed(0)
    norm = nn.GroupNorm(groups, shape[1], affine=affine)
    if affine:
        with zg.no_grad():
            norm.weight.copy_(zg.randn(shape[1]))
            norm.bias.copy_(zg.randn(shape[1]))
    _check(Fn(lambda m, x: m.norm(x * 3 + 1), norm=norm), shape, tmp_path)


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2},
    {"size": (7, 3)},
    {"scale_factor": 1.7, "mode": "nearest-exact"},
    {"size": (7, 3), "mode": "bilinear"},
    {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
    {"scale_factor": 0.5, "mode": "bilinear", "antialias": True},
    {"size": (6, 9), "mode": "bicubic"},
])
def test_interpolate(tmp_path, kwargs):
    _check(Fn(lambda m, x: F.interpolate(x, **kwargs)), (2, 3, 4, 6), tmp_path)


def test_upsample_1d_linear(tmp_path):
    _check(Fn(lambda m, x: F.interpolate(x, scale_factor=3, mode="linear")), (2, 3, 5),
           tmp_path)


@pytest.mark.parametrize("mode,onnx_mode", [("reflect", "reflect"), ("replicate", "edge")])
def test_pad_modes(tmp_path, mode, onnx_mode):
    model = Fn(lambda m, x: F.pad(x, (1, 2, 3, 0), mode=mode))
    zg.manual_seed(3)
    proto = check_export(model, (zg.randn(2, 3, 4, 5),), [(zg.randn(4, 3, 4, 5),)], tmp_path,
                         dynamic_axes=BATCH)
    pads = [n for n in proto.graph.node if n.op_type == "Pad"]
    assert len(pads) == 1
    assert pads[0].attribute[0].s.decode() == onnx_mode


@pytest.mark.parametrize("pad,mode", [((1, 2, 2, 1), "circular"), ((2, -1), "reflect"),
                                      ((1, 1, 1, 1, 1, 1), "replicate")])
def test_pad_circular_and_crops(tmp_path, pad, mode):
    shape = {2: (2, 3, 5), 4: (2, 3, 4, 5), 6: (2, 3, 4, 5, 3)}[len(pad)]
    _check(Fn(lambda m, x: F.pad(x, pad, mode=mode)), shape, tmp_path)


def test_pixel_shuffle_and_unshuffle(tmp_path):
    model = Fn(lambda m, x: F.pixel_unshuffle(F.pixel_shuffle(x, 2) * 2, 2),
               ps=nn.PixelShuffle(2))
    _check(model, (2, 8, 3, 5), tmp_path)


@pytest.mark.parametrize("opset", [17, 20])
def test_decoder_block_other_opsets(tmp_path, opset):
    zg.manual_seed(0)
    model = Fn(lambda m, x: F.interpolate(m.norm(m.up(F.pad(x, (1, 1, 1, 1), mode="reflect"))),
                                          scale_factor=2, mode="bilinear").amax(1),
               up=nn.ConvTranspose2d(4, 6, 3, stride=2), norm=nn.GroupNorm(3, 6))
    proto = check_export(model, (zg.randn(2, 4, 3, 5),), [(zg.randn(3, 4, 3, 5),)], tmp_path,
                         dynamic_axes=BATCH, opset_version=opset)
    assert proto.opset_import[0].version == opset
