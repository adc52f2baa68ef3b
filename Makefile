# The README's commands. `install` is idempotent: torch first (the local 2.13.0 CPU build where one is staged, so pip
# never pulls CUDA wheels), then this package with its development extras.
PYTHON ?= python3
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export HF_EVALUATE_OFFLINE ?= 1

.PHONY: install demo test lint

install:
	$(PYTHON) -m pip install -q "$(TORCH)"
	$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	$(PYTHON) scripts/demo.py

test: install
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .
