# The two commands: `make demo` and `make test`. Each sets up what it needs on a fresh machine.
# Debian's CPython 3.11 when the machine has it: built with PGO and LTO, it runs this project's
# CPU-bound work (letters, import, planning) 10-15 % faster than an unoptimised pyenv build.
PYTHON ?= $(shell test -x /usr/bin/python3.11 && /usr/bin/python3.11 -c 'import ensurepip' 2>/dev/null \
            && echo /usr/bin/python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit test-fast bench system-deps postgres clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

postgres:
	bash scripts/ensure-postgres.sh

demo: $(STAMP) system-deps
	bash scripts/demo.sh

test: $(STAMP) system-deps postgres
	RELANCE_TEST_PG_URL=$${RELANCE_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/relance_test} \
	  $(BIN)/python -m pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP) postgres
	$(BIN)/python benchmarks/import_bench.py --rows 100000

clean:
	rm -rf $(VENV) relance.db relance.db-* outbox .pytest_cache demo rapports reversements uploads
