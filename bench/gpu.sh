#!/usr/bin/env bash
# The GPU check of issue 15, for a machine with an NVIDIA GPU (reference: one H200), in about
# 8 minutes at most (the sum of the steps' timeouts): install CuPy (zengrad[cuda]) unless it
# imports already, run the op and layer tests and the DataLoader / save-load / Trainer device
# tests on device 'cuda' with the real CuPy, and time the training steps of bench/workloads.py
# (MLP, LeNet, BasicBlock, LSTM, Transformer encoder at GPU batch sizes, then the extras) of
# zengrad (CuPy) against torch (CUDA), same weights and data, in the same run.
#
#   bash bench/gpu.sh                         # from the repository root, with .venv built
#   PYTHON=python3 bash bench/gpu.sh          # a Python that has CuPy, CUDA torch, numpy,
#                                             # scipy, safetensors, pytest (the lent H200's
#                                             # image): nothing installed, zengrad from here
#   ZENGRAD_WHEELS=/path bash bench/gpu.sh    # offline: install CuPy from a wheel folder
#   ZENGRAD_GPU_DRY_RUN=1 bash bench/gpu.sh   # print the steps, run nothing (tests/backend)
#
# Output: the test summary and a Markdown table of ms/step; the raw timings are appended to
# bench/results/gpu.jsonl. Exit status: that of the tests (the timings never fail the run).
set -uo pipefail
cd "$(dirname "$0")/.."
# the venv when there is one, else python3 (the lent machine has no venv)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
# zengrad from this checkout, installed or not (bench/ scripts run with bench/ as sys.path[0])
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DRY=${ZENGRAD_GPU_DRY_RUN:-0}

run() {  # echo a step, run it unless dry
    echo "+ $*"
    if [ "$DRY" != 1 ]; then "$@"; fi
}

echo "== 1. the GPU"
if [ "$DRY" != 1 ] && ! nvidia-smi -L; then
    echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi failed)" >&2
    exit 2
fi

echo "== 2. CuPy (zengrad[cuda] = cupy-cuda12x)"
if [ "$DRY" = 1 ] || ! "$PY" -c "import cupy" 2>/dev/null; then
    if [ -n "${ZENGRAD_WHEELS:-}" ]; then
        run "$PY" -m pip install -q --no-index --find-links "$ZENGRAD_WHEELS" "cupy-cuda12x>=13"
    else
        run "$PY" -m pip install -q "cupy-cuda12x>=13"
    fi
fi
run "$PY" -c "import cupy, zengrad as zg; print(zg.cuda.device_count(), 'GPU:', zg.cuda.get_device_name())"

mkdir -p bench/results
echo "== 3. op registry and device tests on 'cuda' (real CuPy)"
# tests/backend: every registry entry run on 'cuda' against NumPy, devices, gradcheck;
# the op families not on the seam yet are xfails naming their line
status=0
run env ZENGRAD_TEST_CUDA=cupy timeout 240 "$PY" -m pytest tests/backend -q -p no:randomly \
    -p no:cacheprovider --junitxml=bench/results/gpu_tests.xml || status=$?
# the device paths above the ops: batches moved to 'cuda' (DataLoader), save/load from the
# device with map_location, Trainer(device=), resuming with dropout (the GPU generator's
# state) and `zengrad train|evaluate|predict --device cuda` (a pytest run of its own, so a
# timeout here keeps the registry's results above)
run env ZENGRAD_TEST_CUDA=cupy timeout 90 "$PY" -m pytest \
    tests/data/test_loader_devices.py tests/io/test_device_save_load.py \
    tests/train/test_trainer_device.py tests/train/test_device_rng_resume.py \
    tests/test_cli_device.py -q -p no:randomly -p no:cacheprovider \
    --junitxml=bench/results/gpu_tests_io.xml || status=$?

echo "== 4. training steps: zengrad (CuPy) vs torch (CUDA)"
TORCH_ON=()
if [ "$DRY" != 1 ] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "note: this Python's torch has no CUDA (make test installs the CPU build): torch runs"
    echo "      on the CPU, so the ratios compare nothing (pip install torch==2.13.0 for CUDA)"
    TORCH_ON=(--torch-device cpu)
fi
# --budget-s: no workload starts after 110 s, so the table ends before the timeout
run timeout 150 "$PY" bench/gpu_steps.py --device cuda "${TORCH_ON[@]}" --budget-s 110 \
    --json bench/results/gpu.jsonl || true
exit $status
