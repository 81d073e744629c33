# The two commands of the README. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Release the assignment, autograde the sample submissions into the sqlite gradebook, print scores.
demo: $(VENV)/.installed
	$(BIN)/graders demo

# Lint, then the whole test suite (unit tests and end-to-end nbgrader runs).
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
