# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/enforcer demo

# The HTML report is checked in a real headless Chromium (Debian's package).
CHROMIUM := $(shell command -v chromium 2>/dev/null)

# Lint and type-check first (fail fast), then the tests.
test: $(STAMP)
	$(BIN)/ruff check enforcer tests bench
	$(BIN)/mypy
ifndef CHROMIUM
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
endif
	$(BIN)/pytest

# One table, all measured in one run (bench/run.py also runs bench/sim_latency.py's measures); ~5 minutes.
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info bench/results.json
