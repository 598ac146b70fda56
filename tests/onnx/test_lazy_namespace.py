"""zengrad.onnx is reachable as an attribute (torch.onnx) without importing onnx up front."""

import subprocess
import sys


def test_onnx_is_imported_on_first_use():
    code = ("import sys, zengrad; assert 'zengrad.onnx' not in sys.modules; "
            "assert callable(zengrad.onnx.export); assert 'zengrad.onnx' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
