# RegSync developer commands. `make test` and `make demo` work on a fresh machine: they install first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov has its own venv: it pins packaging and ~80 other packages that must not move the app's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: install check lint infra-check test unit fuzz demo bench clean

# Python packages into .venv, RegSync itself as an editable package (.venv/bin/regsync) and Azurite into
# node_modules; redone when the requirement files or pyproject.toml change.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml package.json package-lock.json
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 (`$(PYTHON)`) is required" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

install: $(STAMP)

# Lint, format, types, the import layers (see pyproject.toml) and the HTTP API's OpenAPI document
# (tests/unit/test_openapi.py also checks it against the routes and request models).
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/openapi-spec-validator docs/openapi.yaml

lint: check

$(CHECKOV_STAMP): requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 (`$(PYTHON)`) is required" >&2; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

# infra/ (Bicep) linted offline; every skip is justified where it is (`// checkov:skip=ID: why`).
# --skip-download: no call to the vendor's platform (unreachable here, and not needed for the checks).
infra-check: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --directory infra --framework bicep --skip-download --compact --quiet

# Debian's Chromium for the status page's browser tests (tests/browser/, Playwright drives it; Playwright's
# own browser download is never used). Installed only when missing; needs root, as in CI.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# pytest's exit code 5 (no test collected) is reported, not treated as a failure.
test: check infra-check $(CHROMIUM)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# A bounded fuzz of the local stack: the HTTP API against docs/openapi.yaml (schemathesis, negative then
# positive cases) and the Event Grid webhook (hypothesis). `make test` runs 150 cases per test; each
# test of 3,000 cases takes about 5 minutes here, so the per-test timeout is lifted.
FUZZ_CASES ?= 3000
fuzz: $(STAMP)
	REGSYNC_FUZZ_CASES=$(FUZZ_CASES) $(PY) -m pytest tests/e2e/test_fuzz.py -s -o timeout=3600 -p no:cacheprovider $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m devstack.demo $(if $(KEEP),--keep)

# make bench BENCH_ARGS="--targets 20 --reconcile-workspaces 20" (python -m devstack.bench --help)
bench: $(STAMP)
	$(PY) -m devstack.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .state
