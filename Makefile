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

# Debian packages, installed once (as root or with sudo): dataset-fashion-mnist (the fashion_cnn lesson's data),
# bubblewrap (the sandbox's view of the machine) and acl (the sandbox tests let an ordinary user reach Python).
PACKAGES := dataset-fashion-mnist bubblewrap acl
data-packages:
	@missing=""; for package in $(PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	[ -z "$$missing" ] || { \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing \
	  || echo "warning: Debian's$$missing could not be installed: see the README's 'What a full run needs'"; }

# Release each assignment, autograde its sample submissions into the sqlite gradebook, print scores.
demo: $(VENV)/.installed data-packages
	$(BIN)/graders demo

# Lint, then the whole test suite (unit tests and end-to-end nbgrader runs).
test: $(VENV)/.installed data-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
