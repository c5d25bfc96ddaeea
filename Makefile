# Two commands do all the set-up: `make lab` opens the course, `make test` runs every test.
# Both create the virtual environment in .venv when it is missing (needs Python 3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lab test lint exercises build site bench hub clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What a learner needs: the package, JupyterLab and widgets.
$(VENV)/.lab-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	touch $@

# What the tests and the instructor tooling need on top.
$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# JupyterLab refuses to run as root unless told: containers often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(VENV)/.lab-installed
	$(BIN)/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" notebooks/00_start_here.ipynb

test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	bash scripts/ensure_browser.sh
	$(BIN)/python -m pytest

# Instructors: rewrite exercises/ from solutions/; execute and render everything into build/.
exercises: $(VENV)/.test-installed
	$(BIN)/python -m lessons_lib.course regenerate

build: $(VENV)/.test-installed
	$(BIN)/python -m lessons_lib.course build --quick

# Instructors: the course website in build/site/, from the lessons build executed (a lesson runs
# again only when its notebook changed since; python -m lessons_lib.course site says when it is stale).
LESSONS := $(wildcard notebooks/*.ipynb)
EXECUTED := $(patsubst notebooks/%,build/executed/notebooks/%,$(LESSONS))

build/executed/notebooks/%.ipynb: notebooks/%.ipynb | $(VENV)/.test-installed
	$(BIN)/python -m lessons_lib.course build --quick $<

site: $(EXECUTED) | $(VENV)/.test-installed
	$(BIN)/python -m lessons_lib.course site

# The benchmark suite into benchmarks/results.md: `make bench` (full: the notebooks in quick and
# full mode, about 20 minutes on 2 cores) or `make bench QUICK=1` (a few minutes).
bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks $(if $(filter 1 true yes,$(QUICK)),--quick)

# Instructors: a demo class on JupyterHub (127.0.0.1:8000, an instructor and three students); it says where to log in.
$(VENV)/.hub-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[hub]"
	touch $@

hub: $(VENV)/.hub-installed
	$(BIN)/python hub/demo.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build metrics test-artifacts
