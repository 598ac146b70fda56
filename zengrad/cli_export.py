"""`zengrad export RUN model.onnx`: a trained run as an ONNX file (zengrad.onnx.run_export).

The run's preprocessing.json is folded into the graph (raw inputs in, logits or predictions
in the target's units out); --no-preprocessing exports the bare model. Needs the onnx
package (pip install 'zengrad[onnx]'). This module only parses and prints.
"""

from __future__ import annotations

import argparse

from zengrad.cli_args import UsageError, add_subparser, number


def add_export_parser(sub) -> argparse.ArgumentParser:
    p = add_subparser(sub, "export", help="write a trained run as an ONNX file",
                      description="Export a run folder's model to ONNX, its preprocessing "
                                  "folded in (raw inputs as `zengrad predict` takes them; "
                                  "logits for classifiers, predictions in the target's units "
                                  "otherwise), with a dynamic batch axis.")
    p.add_argument("run", help="run folder (from zengrad train) or its .safetensors file")
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--opset", type=number(int, 17, True, "an integer"), default=None,
                   help="ONNX opset version (default: 18)")
    p.add_argument("--no-preprocessing", action="store_true",
                   help="export the bare model: inputs are model inputs (preprocessing.json "
                        "already applied) and outputs are the model's")
    return p


def cmd_export(args) -> int:
    from zengrad.onnx.run_export import describe, export_run

    try:
        proto = export_run(args.run, args.output, opset_version=args.opset,
                           preprocessing=not args.no_preprocessing)
    except (ImportError, ValueError) as e:  # no onnx package, a bad opset or run folder
        raise UsageError(str(e)) from None
    print(describe(proto, args.output))
    return 0
