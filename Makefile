# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL used by the second run of every database test; empty when no server answers.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test lint-imports docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

run: install
	$(BIN)/kb demo || echo "kb demo refused (see above): serving the data directory as it is"
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

test: install
	@scripts/ensure_chromium.sh
	@if [ -z "$$KB_TEST_DATABASE_URL" ] && $(BIN)/python scripts/pg_available.py "$(PG_TEST_URL)"; then \
		echo "PostgreSQL answers at $(PG_TEST_URL): database tests run on SQLite and PostgreSQL"; \
		export KB_TEST_DATABASE_URL="$(PG_TEST_URL)"; \
	else \
		echo "KB_TEST_DATABASE_URL=$${KB_TEST_DATABASE_URL:-<unset: SQLite only>}"; \
	fi; \
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

docs: install
	$(BIN)/python -m tests.docs_gen

clean:
	rm -rf $(VENV) kb-data .pytest_cache
