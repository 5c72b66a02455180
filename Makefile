# The README's two commands are `make demo` and `make test`; both create the virtual
# environment on first use (or when pyproject.toml changes) and reuse it afterwards.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast system-packages check-docker compose-check lint bench clean-runs lock

$(STAMP): pyproject.toml requirements.lock
	@start=$$(date +%s); \
	echo "setup 1/2: $(VENV) with $$($(PYTHON) --version)"; \
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	if $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != $(LOCK_PYTHON))'; then \
		deps="-r requirements.lock"; what="the versions in requirements.lock"; \
	else deps=""; what="the newest versions pyproject.toml allows (requirements.lock is for Python 3.11)"; fi; \
	echo "setup 2/2: installing ganlab with PyTorch, MLflow, Hydra and the test tools, $$what (pip; a few minutes the first time)"; \
	{ { test -z "$$deps" || $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check $$deps; } \
	  && $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check \
	     $${deps:+--no-deps} -e '.[dev]'; } 2>&1 \
	| while IFS= read -r line; do case "$$line" in \
		Collecting*|"Installing collected"*|"Successfully installed"*|ERROR*) \
			printf '  [%4ss] %.110s\n' "$$(( $$(date +%s) - start ))" "$$line";; \
		esac; done; \
	echo "$(VENV) is ready ($$(( $$(date +%s) - start )) s)"
	@touch $(STAMP)

# requirements.lock: every package's version, resolved by pip-tools from pyproject.toml
# (all extras) under lock-constraints.txt (the newest PyTorch CI runs), for Python 3.11 on
# Linux x86_64. `make` installs exactly these; `make lock` resolves them again.
LOCK_PYTHON := (3, 11)
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --extra study --extra server --strip-extras \
		--no-emit-index-url --no-emit-find-links --constraint lock-constraints.txt \
		--output-file requirements.lock pyproject.toml
	@echo "requirements.lock resolved again; commit it with what changed"

# The three phases side by side: a healthy run, one that collapses and one that never
# fits, 2 at a time on the CPU, into the embedded store ./mlflow.db (about 2-3 minutes);
# ends with demo/phases_compared.png and the link comparing them in MLflow.
demo: $(STAMP)
	$(BIN)/python -m ganlab.launch.studies.demo

# Lint, check the Docker files, every test including the slow ones, then the compose
# stack brought up for real (what CI runs). The slowest tests are listed at the end, to
# keep CI's time in view.
test: $(STAMP) system-packages check-docker lint
	$(BIN)/pytest -m "slow or not slow" --durations=25
	$(MAKE) compose-check

# docker/ci/compose-check.sh: the stack built on a locally made Debian base (no registry
# needed), a sweep in the trainer service, every run, metric and artifact checked in
# PostgreSQL and the artifact volume; accounts (401 without credentials, a second user
# kept out of the admin's experiment), HTTPS through the proxy with a certificate made
# for 127.0.0.1, a restart, a backup restored into a fresh stack, teardown. Needs root.
compose-check: $(STAMP) system-packages
	PYTHON=$(BIN)/python docker/ci/compose-check.sh

# Some checks need Debian packages: chromium (the MLflow UI browser test), docker-compose,
# docker.io and debootstrap (the compose stack, validated and brought up), slurm-wlm and
# munge (a real single-node SLURM for the launcher's tests). Installed here when missing and apt-get can run (root: CI,
# containers); otherwise those checks are skipped, and this says so; under CI=true, where
# every check must run, it fails instead.
# Each entry is package:command (daemons live in /usr/sbin, searched too). Then a
# PostgreSQL server on 127.0.0.1:5432 for its tests (docker/ci/ensure-postgres.sh).
SYSTEM_PACKAGES := chromium:chromium docker-compose:docker-compose slurm-wlm:slurmctld \
	munge:munged docker.io:dockerd debootstrap:debootstrap
system-packages:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $${entry#*:} >/dev/null 2>&1 \
		|| missing="$$missing $${entry%%:*}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq $$missing >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $$missing >/dev/null 2>&1; } \
		|| { echo "could not install$$missing: the checks that need them are skipped"; \
		     if [ "$$CI" = true ]; then echo "CI=true: every check must run: failing"; exit 1; fi; }; \
	else echo "not installed:$$missing (apt-get install$$missing): the checks that need them are skipped"; \
		if [ "$$CI" = true ]; then echo "CI=true: every check must run: failing"; exit 1; fi; fi
	@sh docker/ci/ensure-postgres.sh

# hadolint comes with the dev extras; docker-compose from Debian (see system-packages)
check-docker: $(STAMP)
	$(BIN)/hadolint docker/Dockerfile docker/ci/postgres.Dockerfile docker/proxy/Dockerfile
	@if command -v docker-compose >/dev/null 2>&1; then \
		POSTGRES_PASSWORD=checked-by-make MLFLOW_DB_PASSWORD=checked-by-make MLFLOW_ADMIN_PASSWORD=checked-by-make \
		MLFLOW_SECRET_KEY=checked-by-make docker-compose --env-file docker/.env.example \
			-f docker/compose.yaml config -q \
		&& echo "docker/compose.yaml: valid"; \
	else echo "docker-compose is not installed: docker/compose.yaml not validated"; fi

# The quick loop while developing: fast tests only.
test-fast: $(STAMP)
	$(BIN)/pytest

# ruff; the import contracts of pyproject.toml (layers import only downward, only
# ganlab.tracking imports MLflow); mypy over ganlab/ (the extension points' Protocols)
lint: $(STAMP)
	$(BIN)/ruff check ganlab tests benchmarks docker examples
	$(BIN)/ruff format --check ganlab tests benchmarks docker examples
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

# Remove local run outputs (the MLflow store, its artifacts, Hydra output folders).
clean-runs:
	rm -rf mlflow.db mlartifacts mlruns outputs
	find multirun -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
