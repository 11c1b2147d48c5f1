# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make book   -> .venv, install, build the HTML book into _build/html
#   make test   -> .venv, install, Fashion-MNIST, ruff + unit tests + notebook smoke runs + nbval
#                  + the book build with warnings as errors
# Re-executing the chapters (outputs committed to the book):
#   make notebooks PROFILE=cpu|full [NB=01]

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PROFILE ?= cpu
NB      ?=
FASHION := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all venv data book test lint unit nbval notebooks bench clean

all: test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $@

venv: $(VENV)/.installed

# Fashion-MNIST offline: the Debian package, unless IMGUTILS_DATA points elsewhere.
data:
	@if [ -z "$$IMGUTILS_DATA" ] && [ ! -f $(FASHION) ]; then \
	  echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	fi

book: venv
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html in a browser."

lint: venv
	$(VENV)/bin/ruff check imgutils tests scripts bench conftest.py

unit: venv data
	$(PY) -m pytest tests

nbval: venv data
	IMGUTILS_PROFILE=smoke $(PY) -m pytest --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=300 -p no:cacheprovider notebooks

test: lint unit nbval book

notebooks: venv data
	$(PY) scripts/run_notebooks.py --profile $(PROFILE) $(if $(NB),--nb $(NB))

# Benchmarks (not tests): our training loops vs the reference tutorials', same machine.
bench: venv data
	$(PY) bench/gan_bench.py --fid-minutes 10
	$(PY) bench/vae_bench.py

clean:
	rm -rf _build .pytest_cache .ruff_cache
