# StackExchange lakehouse workbench. `make` lists the targets.
# Every target that needs the environment builds it first; setup is idempotent.

.DEFAULT_GOAL := help
SHELL := /bin/bash

# Python 3.12, the Python of Databricks Runtime 18 LTS: found by env/find_python.sh
# unless PYTHON=/path/to/python3.12 is given.
# A PYTHON from the environment is taken only when it is a 3.12 (the finder tries it first).
ifneq ($(origin PYTHON),command line)
PYTHON := $(shell bash env/find_python.sh)
endif
PYTHON_HINT := install it (pyenv install 3.12, apt-get install python3.12, brew install python@3.12, \
	or conda env create -f environment.yml) or set PYTHON=/path/to/python3.12
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed-from-lock
# What a Databricks job's Python has (requirements.databricks.in): the tests' Databricks side.
DATABRICKS_VENV := .venv-databricks
DATABRICKS_STAMP := $(DATABRICKS_VENV)/.installed-from-lock
JARS_DIR := .cache/jars
JARS_STAMP := $(JARS_DIR)/.fetched
# Helm, for kind/: built once from the Go module proxy, at this version.
HELM_VERSION := v3.21.4
HELM := $(abspath .cache/go/helm-$(HELM_VERSION)/helm)
# kind/install_airflow.sh and tests/unit/test_kind.py run this Helm.
export HELM
DUMP ?=
SITE ?=
# The port of `make lab` or `make airflow`; empty, each its own default.
PORT ?=
# When a local archive nothing else dates was published (YYYY-MM-DD; docs/refresh.md).
PUBLISHED ?=
Q ?= SHOW TABLES IN gold
# Test files are spread over this many workers, each with its own S3 server and Spark.
# They take whole files, or groups of files (tests/conftest.py), longest first.
TEST_WORKERS ?= 2

RUN_ARGS := $(if $(DUMP),--dump "$(DUMP)") $(if $(SITE),--site "$(SITE)") $(if $(NO_WAIT),--no-wait) \
	$(if $(PUBLISHED),--published "$(PUBLISHED)")

.PHONY: help
help: ## List the targets
	@# Bold target names on a terminal only: a log gets no escape codes.
	@if [ -t 1 ]; then bold=$$'\033[1m'; plain=$$'\033[0m'; fi; \
	awk -v bold="$$bold" -v plain="$$plain" 'BEGIN {FS = ":.*## "} \
	  /^[a-zA-Z0-9_-]+:.*## / {printf "  %s%-22s%s %s\n", bold, $$1, plain, $$2}' $(MAKEFILE_LIST)

## --- The two commands -------------------------------------------------------

.PHONY: local-run
local-run: setup ## Run the whole pipeline offline (DUMP=<url or .7z> or SITE=<name>, PUBLISHED=<date>; default: the sample)
	$(BIN)/lake run $(RUN_ARGS)

.PHONY: test test-setup
test: ## Run every test tier (unit, integration, notebooks, real dumps)
	@$(MAKE) --no-print-directory --jobs=3 $(OUTPUT_SYNC) test-setup
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Side by side: Helm's build and the jars' download need no Python, and the Databricks
# environment, the hooks and mypy need only .venv (about 20 s less on a fresh clone).
test-setup: setup databricks-env test-tools lint typecheck $(HELM)
# Each line whole, where make has it (GNU make 4; macOS ships 3.81).
OUTPUT_SYNC := $(if $(filter output-sync,$(.FEATURES)),--output-sync=line)

## --- Setup ------------------------------------------------------------------

.PHONY: setup
setup: python java $(VENV_STAMP) $(JARS_STAMP) ## Build the Python environment and fetch the jars (once)

# The browser tests drive Debian's Chromium headless, the ingest tests use both archive
# decoders, and the charts draw the real dumps' user names in Noto, Droid and Nanum fonts;
# elsewhere install them yourself.
TEST_PACKAGES := chromium shellcheck 7zip fonts-noto-core fonts-droid-fallback fonts-nanum
.PHONY: test-tools
test-tools: ## Install Debian's Chromium, ShellCheck, 7-Zip and fonts for the tests (once)
	@if command -v chromium >/dev/null && command -v shellcheck >/dev/null && command -v 7zz >/dev/null \
	  && fc-list 2>/dev/null | grep -q "Noto Sans Thai" && fc-list | grep -q "Droid Sans Fallback" && fc-list | grep -q "NanumGothic"; then exit 0; \
	elif command -v apt-get >/dev/null; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES) >/dev/null; \
	else echo "warning: no apt-get here; install Chromium, ShellCheck, 7-Zip (7zz) and the Noto, Droid Sans Fallback and Nanum fonts for the tests"; fi

.PHONY: python
python: ## Check for Python 3.12
	@[ -n "$(PYTHON)" ] && command -v "$(PYTHON)" >/dev/null || \
	  { echo "error: Python 3.12 is needed and $(or $(PYTHON),none) was not found: $(PYTHON_HINT)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else "error: $(PYTHON) is Python %d.%d; 3.12 is needed: $(PYTHON_HINT)" % sys.version_info[:2])'

.PHONY: java
java: python ## Check for Java 17 or 21
	@PYTHONPATH=env $(PYTHON) -m worker.java

$(VENV_STAMP): requirements.lock pyproject.toml | python
	@echo "setup: installing the $$(grep -c '==' requirements.lock) Python packages of requirements.lock into $(VENV) (once; about 2 minutes with an empty download cache)"
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet $$(grep '^uv==' requirements.lock)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --requirement requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --editable .
	touch $@

.PHONY: databricks-env
databricks-env: python $(DATABRICKS_STAMP) ## Build .venv-databricks, a Databricks job's libraries, for the tests (once)

$(DATABRICKS_STAMP): requirements.databricks.lock pyproject.toml | python $(VENV_STAMP)
	@echo "setup: installing a Databricks job's $$(grep -c '==' requirements.databricks.lock) Python packages into $(DATABRICKS_VENV), for the tests (once; about a minute)"
	$(PYTHON) -m venv --clear $(DATABRICKS_VENV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(DATABRICKS_VENV)/bin/python \
		--requirement requirements.databricks.lock
	$(BIN)/uv pip install --quiet --python $(DATABRICKS_VENV)/bin/python --no-deps --editable .
	touch $@

# The jars come from Maven Central once, by the manifest; Spark gets them by path.
$(JARS_STAMP): env/jars.pom.xml | java
	@command -v mvn >/dev/null || { echo "error: Maven (mvn) is needed once to fetch the jars: apt-get install maven, brew install maven, or conda env create -f environment.yml"; exit 1; }
	@echo "setup: fetching the $$(grep -c '<dependency>' env/jars.pom.xml) jars of env/jars.pom.xml from Maven Central into $(JARS_DIR) (once; under a minute)"
	@# Maven's console library writes color codes even in batch mode: strip them from logs.
	set -o pipefail; mvn --quiet --batch-mode --file env/jars.pom.xml dependency:copy-dependencies \
		-DexcludeTransitive=true -DoutputDirectory=$(abspath $(JARS_DIR)) 2>&1 \
		| sed $$'s/\x1b\\[[0-9;]*m//g'
	touch $@

.PHONY: lock
LOCK_HEADER = \# Generated by \`make lock\` from $(1) with Python 3.12 (pip freeze). Do not edit by hand.
lock: python ## Re-resolve requirements.in and requirements.databricks.in into their locks (needs the registry)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --requirement requirements.in
	{ echo "$(call LOCK_HEADER,requirements.in)"; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock
	@# The runtime's libraries first, then the job's on top, as on Databricks; and the Spark
	@# Connect client the kernels here use (on Databricks the runtime is the client).
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --requirement env/databricks_runtime.txt
	.lock-venv/bin/pip install --quiet --requirement requirements.databricks.in \
		"$$(grep "^pyspark\[connect\]==" requirements.in)"
	{ echo "$(call LOCK_HEADER,env/databricks_runtime.txt then requirements.databricks.in)"; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > requirements.databricks.lock
	rm -rf .lock-venv

.PHONY: helm
helm: $(HELM) ## Build Helm from the Go module proxy, for kind/ (once; minutes cold, seconds with Go's build cache)

$(HELM):
	@command -v go >/dev/null || { echo "error: Go is needed once to build Helm $(HELM_VERSION) from the Go module proxy: install Go (https://go.dev/doc/install, apt-get install golang, brew install go)"; exit 1; }
	@echo "setup: building Helm $(HELM_VERSION) from the Go module proxy into $(dir $(HELM)) (once; a few minutes with an empty Go build cache)"
	GOBIN=$(dir $(HELM)) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

## --- Working with the lake --------------------------------------------------

.PHONY: s3-start s3-stop s3-status
s3-start: setup ## Start the local S3 server (S3Proxy at LAKE_S3_ENDPOINT, data in ./lake); it prints where
	$(BIN)/lake s3 start
s3-stop: ## Stop the local S3 server
	@if [ -x $(BIN)/lake ]; then $(BIN)/lake s3 stop; else echo "not set up"; fi
s3-status: setup ## Is the local S3 server up?
	$(BIN)/lake s3 status

.PHONY: spark-start spark-stop spark-status
spark-start: setup ## Start the local Spark Connect server (at LAKE_SPARK_REMOTE, with Delta and the S3 server)
	$(BIN)/lake spark start
spark-stop: ## Stop the local Spark Connect server
	@if [ -x $(BIN)/lake ]; then $(BIN)/lake spark stop; else echo "not set up"; fi
spark-status: setup ## Is the local Spark Connect server up?
	$(BIN)/lake spark status

.PHONY: stop
stop: spark-stop s3-stop ## Stop the local cluster: the Spark Connect server, then the S3 server

.PHONY: lab lab-stop
lab: setup ## JupyterLab with the lake kernel (read-only lake; WRITE=1 to write; PORT= to choose)
	$(BIN)/lake lab start $(if $(WRITE),--write) $(if $(PORT),--port $(PORT))
lab-stop: ## Stop JupyterLab and its read-only S3 endpoint (by process id)
	@if [ -x $(BIN)/lake ]; then $(BIN)/lake lab stop; else echo "not set up"; fi

.PHONY: kind-up kind-down kind-ui kind-password
kind-up: setup $(HELM) ## Airflow on a local Kind cluster (needs docker, kind, kubectl; docs/kind.md)
	bash kind/install_airflow.sh
kind-password: ## The Kind Airflow UI's generated password for user admin
	@bash kind/install_airflow.sh password
kind-down: ## Delete the Kind cluster (the lake in ./lake stays)
	bash kind/install_airflow.sh down
kind-ui: ## Port-forward the Kind Airflow UI to http://localhost:8080
	bash kind/install_airflow.sh ui

.PHONY: bundle docs databricks-imitation
bundle: setup ## Render resources/stackexchange.jobs.yml (the Databricks job) from the pipeline graph
	$(BIN)/lake bundle
docs: setup ## Write docs/settings.md from the settings' fields
	$(BIN)/lake docs
databricks-imitation: setup databricks-env ## Run every notebook as a Databricks job would, in a job's Python, here (SITE=<name>)
	$(DATABRICKS_VENV)/bin/lake databricks-imitation $(if $(SITE),--site "$(SITE)")

.PHONY: airflow airflow-stop
airflow: setup ## Start a local Airflow 3 with the DAGs from dags/ (PORT= to choose; it prints the URL)
	$(BIN)/lake airflow start $(if $(PORT),--port $(PORT))
airflow-stop: ## Stop the local Airflow (every component, by process id)
	@if [ -x $(BIN)/lake ]; then $(BIN)/lake airflow stop; else echo "not set up"; fi

.PHONY: ingest
ingest: setup ## Only fetch, verify, extract and upload a dump (DUMP= or SITE=)
	$(BIN)/lake ingest $(RUN_ARGS)

.PHONY: sql
sql: setup ## Query the lake with Spark SQL and print CSV: make sql Q="SELECT * FROM gold.most_popular_tags"
	@$(BIN)/lake sql "$(Q)"

.PHONY: vacuum
vacuum: setup ## Remove data files no commit references (left by a killed run), once older than 7 days
	$(BIN)/lake vacuum

## --- Development ------------------------------------------------------------

.PHONY: test-unit test-integration test-notebooks
test-unit: setup databricks-env $(HELM) ## Unit tests only
	$(BIN)/pytest -m unit
test-integration: setup databricks-env ## Integration tests (emulator, real dumps)
	$(BIN)/pytest -m integration
test-notebooks: setup databricks-env ## The notebooks as a Databricks job and the lab's kernel run them
	$(BIN)/pytest -m notebooks

.PHONY: lint typecheck format hooks
lint: $(VENV_STAMP) ## The git hooks over every file: ruff, stripped notebooks, no keys, no large files
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure
typecheck: $(VENV_STAMP) ## mypy: strict on lakehouse (what Databricks runs), the other packages checked
	$(BIN)/mypy
hooks: $(VENV_STAMP) ## Install the same hooks into git, to run on each commit
	$(BIN)/pre-commit install
format: $(VENV_STAMP) ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: benchmark
benchmark: setup ## Time each stage and XML -> bronze (see BENCHMARKS.md)
	$(BIN)/python benchmarks/run_benchmarks.py

.PHONY: clean
clean: ## Remove the environment, jars, runs and samples (keeps the lake)
	-$(MAKE) s3-stop
	rm -rf $(VENV) $(DATABRICKS_VENV) .cache runs data .local
