# Two commands: `make demo` runs Anjian, `make test` runs every test. Both create .venv first
# and build the web portals (portal/web -> portal/web/dist) when their sources changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make demo PORT=8080 HOST=0.0.0.0` serves elsewhere than 127.0.0.1:8000.
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The web portals: `npm ci` when the lock changed, the build when the lock or a source did.
WEB         := portal/web
WEB_DEPS    := $(WEB)/node_modules/.installed
WEB_BUILT   := $(WEB)/dist/.built
# The two .d.ts files are written by the build itself; they do not call for another build.
WEB_SOURCES := $(shell find $(WEB)/src -type f ! -name auto-imports.d.ts ! -name components.d.ts \
	2>/dev/null) $(wildcard $(WEB)/index.html $(WEB)/*/index.html) \
	$(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json

.PHONY: demo test lint serve clean portal

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(WEB_DEPS): $(WEB)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js 20+ and npm are needed to build the portals" >&2; exit 1; }
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_DEPS)

$(WEB_BUILT): $(WEB_DEPS) $(WEB)/package-lock.json $(WEB_SOURCES)
	cd $(WEB) && npm run --silent build
	touch $(WEB_BUILT)

portal: $(WEB_BUILT)

demo: $(STAMP) portal
	$(BIN)/anjian demo --host $(HOST) --port $(PORT)

serve: $(STAMP) portal
	$(BIN)/anjian migrate
	$(BIN)/anjian serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint portal
	scripts/ensure-chromium
	scripts/ensure-fonts
	cd $(WEB) && npm test --silent
	cd $(WEB) && npm run --silent typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache $(WEB)/node_modules $(WEB)/dist
