# Two entry points on a fresh clone: `make train` (the main job) and `make test`.
# `make train` installs only what training needs (numpy, scipy, numba, safetensors, tqdm and
# the data and plot extras); `make test` adds the test tools (pytest, pytest-xdist,
# hypothesis, torch, dask, mpi4py+mpich, onnx+onnxruntime, mkdocs so the tests build the
# site strictly, ruff) to the same environment.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TRAIN_STAMP := $(VENV)/.installed-train
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: train test lint bench docs figures clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(TRAIN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data,viz]'
	touch $(TRAIN_STAMP)

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data,viz,test,dev,docs]'
	touch $(TEST_STAMP)

$(DOCS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data,viz,docs]'
	touch $(DOCS_STAMP)

train: $(TRAIN_STAMP)
	$(VENV)/bin/zengrad train

# Many tests start Python processes (CLI runs, DDP ranks, tune and loader workers): with
# PYTHONDONTWRITEBYTECODE set, each would compile zengrad's sources again (+0.8 s a process),
# so the tests write bytecode (into the clone's ignored __pycache__ folders) whatever it says.
# Two pytest workers (pytest-xdist; each test holds BLAS to one thread): the suite took
# 604-660 s in one process on a 2-core host, 365 s in two.
test: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest tests -n 2 --dist worksteal

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .

bench: $(TEST_STAMP)
	$(PY) bench/bench_mlp.py

# the site (guide + manual) into site/, offline; figures are committed, `make figures` redraws them
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# the guide's figures and tables, drawn by docs/guide/experiments/chNN_*.py (a few minutes)
figures: $(TRAIN_STAMP)
	MPLBACKEND=Agg $(PY) docs/guide/experiments

clean:
	rm -rf $(VENV) runs .pytest_cache site
