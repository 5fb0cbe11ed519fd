# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast bench fuzz crashtest install migrate init-db seed clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Create the database, or bring an older one's schema to this version (versioned migrations).
migrate: install
	$(FLASK) migrate

init-db: migrate

seed: migrate
	$(FLASK) seed-demo --url http://$(HOST):$(PORT)

run: seed
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs, OpenAPI: /openapi.json)"
	@echo "Operator console: http://$(HOST):$(PORT)/console/ ; sign in as the demo operator with this link (once, 15 minutes):"
	@$(FLASK) console-link --email demo@example.com --url http://$(HOST):$(PORT) 2>/dev/null
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - app:app

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The quick part alone: no browser, crash, fuzz, upgrade or other slow test (make test runs all).
test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# A long schemathesis run over HTTP against a real gunicorn (FUZZ_EXAMPLES per operation).
FUZZ_EXAMPLES ?= 300
fuzz: install
	FUZZ_LIVE=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s tests/test_fuzz.py $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# SIGKILL under load, restart, check every acknowledged write; SQLite and PostgreSQL (started
# with .ci/postgres unless CONSENT_TEST_DATABASE_URL is set). CRASH_ARGS="--cycles 50" etc.
crashtest: install
	$(PY) -m bench.crash $(CRASH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
