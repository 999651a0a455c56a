# Benchlink developer entry points. `make run` and `make test` each do their whole set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
APT_PACKAGES := socat xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 \
                libxcb-shape0 libxcb-render-util0 libxcb-image0 postgresql imagemagick
export BENCHLINK_CORPUS ?= $(abspath ../shared/corpus)

.PHONY: run test lint bench sysdeps venv docs installer clean

$(STAMP): pyproject.toml $(PLUGINS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

venv: $(STAMP)

# System packages some tests need (serial ptys, a real X server, PostgreSQL). Installed with
# apt-get when we are root (as on CI); otherwise the tests that need them skip and say why.
sysdeps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || echo "WARNING: apt-get failed; tests needing$$missing will skip"; \
	else echo "NOTE: not root; tests needing$$missing will skip"; fi

# A developer's `make run` keeps its demo data in .benchlink-home/ (key file included, so it also
# works where no OS keyring exists); the installed app uses the platform's folders and keyring.
RUN_HOME ?= $(CURDIR)/.benchlink-home
run: $(STAMP)
	BENCHLINK_HOME="$${BENCHLINK_HOME:-$(RUN_HOME)}" BENCHLINK_KEY_FILE="$${BENCHLINK_KEY_FILE:-$(RUN_HOME)/db.key}" \
	  $(VENV)/bin/benchlink $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench plugins
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src/benchlink/protocols src/benchlink/core

test: $(STAMP) sysdeps lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_all.py

installer: $(STAMP)
	installer/build.sh $(if $(FORCE),--force)

docs: $(STAMP)
	docs/build.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
