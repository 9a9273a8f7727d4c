# Two commands for a new user: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.augkit-installed

.PHONY: setup demo test test-generic bench lint clean

# torch is installed first and pinned to the CPU wheel, so no dependency pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/augkit demo --output runs/demo

test: setup
	$(BIN)/python -m pytest

# The model-training tests (marker `slow`) again with torch's and CTranslate2's generic kernels
# instead of this CPU's AVX2/AVX-512 ones: float results shift in the last digits, as they do on
# another CPU, so a test that passes only by the luck of one CPU's rounding fails here too.
test-generic: setup
	ATEN_CPU_CAPABILITY=default CT2_FORCE_CPU_ISA=GENERIC $(BIN)/python -m pytest -m slow

bench: setup
	$(BIN)/python -m pytest bench --benchmark-only
	$(BIN)/python bench/bench_transliterate.py

lint: setup
	$(BIN)/ruff check augment corpora finetune schemes tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
