# The two commands of the README: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench proto docs clean system-deps

system-deps:
	@bash scripts/bootstrap.sh

$(STAMP): pyproject.toml | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: system-deps $(STAMP)
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

unit: $(STAMP)
	$(BIN)/python -m pytest

test: system-deps $(STAMP) lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/exporter_scrape.py

# Regenerate the kubelet pod-resources stubs from exporter/podresources/api.proto.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \
		exporter/podresources/api.proto

docs: $(STAMP)
	$(BIN)/python -m exporter.metrics > docs/metrics.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
