# Two entry points on a fresh clone: `make train` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: train test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

train: $(STAMP)
	$(VENV)/bin/zengrad train

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/bench_mlp.py

clean:
	rm -rf $(VENV) runs .pytest_cache
