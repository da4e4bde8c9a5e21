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

# What the tests start for real, from Debian's packages: a headless Chromium (the HTML report) and MIT
# Kerberos' KDC (--auth kerberos), with the headers python-gssapi and pykerberos build against.
DEBIAN_TEST_PACKAGES := chromium krb5-kdc krb5-admin-server krb5-user libkrb5-dev
TEST_STAMP := $(VENV)/.installed-test-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(TEST_STAMP): $(STAMP)
	dpkg -s $(DEBIAN_TEST_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_TEST_PACKAGES) >/dev/null; }
	$(BIN)/pip install --quiet -e '.[test,kerberos,credssp]'
	touch $@

# Lint and type-check first (fail fast), then the tests.
test: $(TEST_STAMP)
	$(BIN)/ruff check enforcer tests bench
	$(BIN)/mypy
	$(BIN)/pytest

# One table, all measured in one run (bench/run.py also runs bench/sim_latency.py's measures); ~5 minutes.
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info bench/results.json
