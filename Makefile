# The two commands of the README do all set-up themselves:
#   make repro   venv + pip + system packages, `tinykd params check`, then `dvc repro`
#                (REPRO_ARGS=--dry lists the stages it would run: scripts/check-debian.sh)
#   make test    venv + pip + system packages, then the test suite
#   make lint    ruff over the Python code, `snakemake --lint` over the workflow
PYTHON  ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.tinykd-installed
SYSSTAMP = $(VENV)/.tinykd-system
TEST_ARGS ?=
REPRO_ARGS ?=

.PHONY: all setup system venv repro test bench lint clean-venv
all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { bash scripts/setup-system.sh --venv-only && $(PYTHON) -m venv $(VENV); }

# constraints.txt: the exact versions of the packages that shape the outputs (see its header).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(SYSSTAMP): scripts/setup-system.sh | $(BIN)/python
	bash scripts/setup-system.sh
	touch $@

venv: $(STAMP)
system: $(SYSSTAMP)
setup: venv system

repro: setup
	@test -d .dvc || $(BIN)/dvc init -q
	$(BIN)/tinykd params check --quiet params.yaml
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro $(REPRO_ARGS)

test: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(TEST_ARGS)

lint: venv
	$(BIN)/ruff check src stages tests bench scripts
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/snakemake_lint.py -s workflow/Snakefile

bench: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m bench

clean-venv:
	rm -rf $(VENV)
