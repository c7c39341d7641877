# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The project's own settings: no telemetry from any tool, and an identity for the
# commits that `dvc exp` makes in clones where git has no user configured.
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := True
export DO_NOT_TRACK := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export GIT_AUTHOR_NAME ?= $(shell git config user.name 2>/dev/null || echo fakeimage)
export GIT_AUTHOR_EMAIL ?= $(shell git config user.email 2>/dev/null || echo fakeimage@localhost)
export GIT_COMMITTER_NAME ?= $(GIT_AUTHOR_NAME)
export GIT_COMMITTER_EMAIL ?= $(GIT_AUTHOR_EMAIL)
export TF_CPP_MIN_LOG_LEVEL ?= 2

MLFLOW_PORT ?= 5000
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_ARTIFACTS_DESTINATION ?= $(CURDIR)/mlartifacts
MLFLOW_WORKERS ?= 1
SERVE_PORT ?= 3000
APP_PORT ?= 8501
# `make test` runs test files in this many processes (pytest-xdist); each file in one of them,
# handed out in the order tests/conftest.py gives (longest work first)
TEST_WORKERS ?= 2

.PHONY: install run test lint format bench serve app mlflow mlflow-server bento clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	# constraints.txt pins the whole environment: install it as it is (no resolving), then
	# the project itself, then check that nothing is missing or conflicting.
	$(VENV)/bin/python -m pip install --quiet --no-deps -r constraints.txt wheel
	$(VENV)/bin/python -m pip install --quiet --no-deps -e '.[dev]'
	$(VENV)/bin/python -m pip check
	test -d .git || git init --quiet
	touch $@

run: install
	dvc repro

test: install
	pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: install
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks

format: install
	ruff format src tests benchmarks
	ruff check --fix src tests benchmarks

bench: install
	python -m benchmarks.run $(BENCH_ARGS)

serve: install
	fakeimage serve --port $(SERVE_PORT)

app: install
	FAKEIMAGE_SERVICE_URL=$${FAKEIMAGE_SERVICE_URL:-http://127.0.0.1:$(SERVE_PORT)} \
	streamlit run src/fakeimage/app/page.py --server.address 127.0.0.1 --server.port $(APP_PORT)

mlflow: install
	@fakeimage dashboard --server http://127.0.0.1:$(MLFLOW_PORT) || true
	mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) --backend-store-uri sqlite:///$(CURDIR)/mlflow.db

# A shared tracking server: runs and the registry in PostgreSQL, artifacts proxied by the server
# (clients need no access to the storage). The database address comes from the environment,
# never the command line: MLFLOW_BACKEND_STORE_URI=postgresql+psycopg://USER@HOST:PORT/DB, with
# the password in PGPASSWORD or a ~/.pgpass file (PGPASSFILE). Clients then set
# MLFLOW_TRACKING_URI=http://HOST:$(MLFLOW_PORT).
mlflow-server: install
	@test -n "$$MLFLOW_BACKEND_STORE_URI" || { echo "mlflow-server: set MLFLOW_BACKEND_STORE_URI=postgresql+psycopg://USER@HOST:PORT/DB (password in PGPASSWORD or ~/.pgpass)"; exit 2; }
	mlflow server --host $(MLFLOW_HOST) --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS) \
		--artifacts-destination $(MLFLOW_ARTIFACTS_DESTINATION)

bento: install
	fakeimage bento

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
