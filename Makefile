# Two commands: `make run` and `make test` (README). Everything else is a helper.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
# One pytest-xdist worker per core: each worker starts its own PostgreSQL, Redis, SMTP
# sink and chromium on free loopback ports, so workers never share a server.
TEST_WORKERS ?= auto
export FLASK_APP := run

.PHONY: run test install setup bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

setup: install
	$(VENV)/bin/flask setup

run: setup
	PORT=$(PORT) $(PY) -m app.serve

test: install
	$(PY) -m pytest -p no:dash -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
