# The two commands of the README.
#   make run   - set up .venv and run the main job on the shipped example portfolio
#   make test  - set up .venv (with test extras) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/lead

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/pvopt plan sites/lead --out $(OUT) --force --report

test: $(VENV)/.installed
	$(BIN)/ruff check pvopt tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 -m "not slow" tests pvopt --doctest-modules

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_yield.py
	$(BIN)/python benchmarks/bench_plan.py

clean:
	rm -rf $(VENV) out
