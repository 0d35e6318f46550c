# Two commands stay true on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

# The local cloud must never mix with the caller's own AWS settings.
unexport $(filter AWS_%,$(.VARIABLES))
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: all venv demo test lint pytest molecule bench local-cloud-start local-cloud-stop clean

all: test

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

demo: venv
	$(BIN)/ansible-playbook site.yml

test: venv lint pytest molecule

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --offline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: venv
	$(BIN)/pytest

molecule: venv
	$(BIN)/molecule test --all

# Not part of test: it takes minutes and measures rather than checks (see README, Performance).
bench: venv $(BENCH_STAMP)
	$(BIN)/python -m bench.run

$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

local-cloud-start: venv
	$(BIN)/python -m localcloud start

local-cloud-stop: venv
	$(BIN)/python -m localcloud stop

clean: local-cloud-stop
	rm -rf .localcloud
