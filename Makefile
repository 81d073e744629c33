# The two commands of the README. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test data-packages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Debian's dataset-fashion-mnist: the fashion_cnn lesson's data (installed once, as root or with sudo).
data-packages:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq dataset-fashion-mnist \
	  || echo "warning: Debian's dataset-fashion-mnist could not be installed: the fashion_cnn lesson has no data"; }

# Release each assignment, autograde its sample submissions into the sqlite gradebook, print scores.
demo: $(VENV)/.installed data-packages
	$(BIN)/graders demo

# Lint, then the whole test suite (unit tests and end-to-end nbgrader runs).
test: $(VENV)/.installed data-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
