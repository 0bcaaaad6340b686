# Two commands: `make demo` runs Anjian, `make test` runs every test. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make demo PORT=8080 HOST=0.0.0.0` serves elsewhere than 127.0.0.1:8000.
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test lint serve clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anjian demo --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(BIN)/anjian migrate
	$(BIN)/anjian serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	scripts/ensure-chromium
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache
