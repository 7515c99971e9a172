# Verbs for people and CI. Every target creates the environment first if it is missing.
SHELL := /bin/bash
PYTHON ?= python3.11
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch's CPU wheel lies in the machine's local wheel folder; uv only looks there when told
FIND_LINKS := $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: run test env train index lint lock clean doctor bench bench-short

env: $(STAMP)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet 'uv==0.13.8'

$(STAMP): requirements.lock pyproject.toml | $(UV)
	test -x $(BIN)/python || $(UV) venv --python $(PYTHON) $(VENV)
	$(UV) pip sync --python $(BIN)/python --compile-bytecode $(FIND_LINKS) requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps --compile-bytecode -e .
	touch $(STAMP)

## Re-resolve the lock (only when pyproject.toml or overrides.txt change)
lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra dev --override overrides.txt \
	  --python-version 3.11 $(FIND_LINKS) -o requirements.lock

train: env
	$(BIN)/patentdesk train

run: env
	$(BIN)/patentdesk run

doctor: env
	$(BIN)/patentdesk doctor

# Browser tests drive Debian's chromium (never a downloaded browser); installed once if missing
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	@echo "installing Debian's chromium and a CJK font for the browser tests"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null

test: env $(CHROMIUM)
	$(BIN)/python -m pytest -q -ra

## Load, fault and hostile-input suite against its own `make run` stack; report under var/reports/
bench: env $(CHROMIUM)
	$(BIN)/python -m bench.load $(BENCH_ARGS)

bench-short: env $(CHROMIUM)
	$(BIN)/python -m bench.load --short $(BENCH_ARGS)

lint: env
	$(BIN)/ruff check bot actions tests
	$(BIN)/mypy bot actions

clean:
	rm -rf var/ models/ results/ .pytest_cache
