# The two commands of the README: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench proto docs chart clean system-deps redocly images

DEMO_STAMP := $(VENV)/.installed-demo
# Redocly's CLI lints the OpenAPI document in the tests (tests/analytics/test_openapi_contract.py):
# pinned, from npm, into a cache in the checkout. 1.34 runs on Debian 12's Node.js 18.
REDOCLY_VERSION := 1.34.5
REDOCLY_DIR := .cache/redocly
REDOCLY_STAMP := $(REDOCLY_DIR)/.installed-$(REDOCLY_VERSION)

# The tests need PostgreSQL's server too; the demo does not (bootstrap.sh demo skips it).
system-deps:
	@bash scripts/bootstrap.sh test

# The SDK and gpuctl are their own distribution (clients/python/); it is not on an index, so it
# is installed from the checkout in the same pip run that asks for it (the extras' `sdk`).
CLIENT := ./clients/python
INSTALL_INPUTS := pyproject.toml clients/python/pyproject.toml VERSION

$(STAMP): $(INSTALL_INPUTS) | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e $(CLIENT) -e '.[dev]'
	@touch $(STAMP) $(DEMO_STAMP)

# The demo installs only what it runs (no test tools: Helm's engine, schemathesis, ...).
$(DEMO_STAMP): $(INSTALL_INPUTS)
	@bash scripts/bootstrap.sh demo
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e $(CLIENT) -e '.[demo]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	@bash scripts/bootstrap.sh demo
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The rule and dashboard generators are plain scripts, checked one at a time (both are `generate`).
typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy alerts/generate.py
	$(BIN)/mypy dashboards/generate.py

$(REDOCLY_STAMP): | system-deps
	npm install --prefix $(REDOCLY_DIR) --no-audit --no-fund --no-save --loglevel=error \
		@redocly/cli@$(REDOCLY_VERSION)
	@touch $@

redocly: $(REDOCLY_STAMP)

unit: $(STAMP) $(REDOCLY_STAMP)
	$(BIN)/python -m pytest

test: system-deps $(STAMP) lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/exporter_scrape.py

# Regenerate the kubelet pod-resources stubs from exporter/podresources/api.proto.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \
		exporter/podresources/api.proto

# Copy alerts/*.yml and dashboards/*.json into the Helm chart (it cannot read files outside it),
# and write the values table of the chart's README from values.yaml's comments.
chart:
	$(PYTHON) scripts/sync_chart.py
	$(PYTHON) scripts/chart_values_doc.py

docs: $(STAMP)
	$(BIN)/python -m exporter.metrics > docs/metrics.md

# The two images as OCI archives in build/images, without Docker (scripts/images.py; as root).
# IMAGE_SOURCE sets the org.opencontainers.image.source label (default: git's origin URL).
images:
	@bash scripts/bootstrap.sh images
	$(PYTHON) scripts/images.py build

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache
