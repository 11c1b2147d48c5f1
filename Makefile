# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make book   -> .venv, install, build the HTML book into _build/html
#   make test   -> .venv and .venv-colab, Fashion-MNIST, ruff + unit tests + the papermill smoke
#                  run of every chapter in Colab's versions + nbval in the primary venv + the book
#                  build with warnings as errors + the browser test of the book
# Re-executing the chapters (outputs committed to the book):
#   make notebooks PROFILE=cpu|full [NB=01]

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
# Colab's runtime (versions pinned in .ci/colab-versions.txt, Python from its "# python:" line)
COLAB_PINS   := .ci/colab-versions.txt
COLAB_VENV   := .venv-colab
COLAB_PY_VER := $(shell sed -n 's/^\# python: *//p' $(COLAB_PINS))
COLAB_PYTHON ?= $(or $(shell ls -d $$(pyenv root 2>/dev/null)/versions/$(COLAB_PY_VER)*/bin/python$(COLAB_PY_VER) \
                  2>/dev/null | tail -n 1),$(shell command -v python$(COLAB_PY_VER) 2>/dev/null))
PROFILE ?= cpu
NB      ?=
FASHION := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all venv colab-venv data vendor book browser test lint unit smoke-colab nbval \
        notebook-checks unit-and-colab-venv notebooks \
        bench clean

all: test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $@

venv: $(VENV)/.installed

# Colab's versions, and the test tools only: imgutils is NOT installed here; the notebooks'
# setup cell puts the repository on sys.path, as it does in Colab.
$(COLAB_VENV)/.installed: $(COLAB_PINS)
	@test -n "$(COLAB_PYTHON)" || { echo "Python $(COLAB_PY_VER) (Colab's) not found: install it \
	(e.g. pyenv install $(COLAB_PY_VER)) or pass COLAB_PYTHON=/path/to/python$(COLAB_PY_VER)"; exit 1; }
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r $(COLAB_PINS) papermill pytest
	touch $@

colab-venv: $(COLAB_VENV)/.installed

# Fashion-MNIST offline: the Debian package, unless IMGUTILS_DATA points elsewhere.
data:
	@if [ -z "$$IMGUTILS_DATA" ] && [ ! -f $(FASHION) ]; then \
	  echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	fi

# Offline book: MathJax 3, require.js and @jupyter-widgets/html-manager, pinned with sha256 in
# book/_vendor.lock, fetched once with `npm pack` into _build/vendor/ (never committed),
# checksums verified on every build.
vendor:
	@$(PYTHON) scripts/vendor_js.py

# Sphinx copies static and extra files only when it writes some page: when the vendored JS or
# book/_theme/ changed since the last build, delete the pages' HTML so that all are rewritten.
book: venv vendor
	@if [ -f _build/html/.buildinfo ] && \
	  [ -n "$$(find book/_theme _build/vendor/stamps -newer _build/html/.buildinfo)" ]; then \
	  find _build/html -name '*.html' -not -path '_build/html/_static/*' -delete; fi
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html in a browser."

# Every page of the built book in headless Chromium (Debian's /usr/bin/chromium + Playwright),
# served on 127.0.0.1: no request leaves it, formulas typeset, widgets render, phone navigation.
browser: book
	$(PY) -m pytest -m browser -rs -p no:cacheprovider tests/test_book_browser.py

lint: venv
	$(VENV)/bin/ruff check imgutils tests scripts bench conftest.py

unit: venv data
	$(PY) -m pytest -m "not colab and not browser" tests

# Every chapter once with papermill (PROFILE="smoke") in Colab's versions, and the shipped
# weights loaded there; nbval below executes each chapter once more, in the primary venv.
smoke-colab: colab-venv data
	PATH="$(CURDIR)/$(COLAB_VENV)/bin:$$PATH" IMGUTILS_COLAB_VERSIONS=1 \
	  $(COLAB_VENV)/bin/python -m pytest -p no:cacheprovider -rs \
	  -k "smoke_run_with_papermill or shipped" tests/test_notebooks.py tests/test_pretrained.py

nbval: venv data
	IMGUTILS_PROFILE=smoke $(PY) -m pytest --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=300 -p no:cacheprovider notebooks

# The two notebook passes run side by side (make -j2, output grouped per pass): a smoke run is
# mostly single-threaded Python (tracing each model's train step), so two of them share the
# 2 cores well and the pair takes little longer than the slower one alone.
notebook-checks: venv colab-venv data
	$(MAKE) --no-print-directory -j2 --output-sync=target smoke-colab nbval

# The unit tests (CPU) run while pip builds the Colab venv (network and disk).
unit-and-colab-venv: venv data
	$(MAKE) --no-print-directory -j2 --output-sync=target unit colab-venv

test: lint unit-and-colab-venv notebook-checks book browser

notebooks: venv data
	$(PY) scripts/run_notebooks.py --profile $(PROFILE) $(if $(NB),--nb $(NB))
	$(PY) scripts/run_times.py  # README and book/running.md quote the new wall times

# Benchmarks (not tests): our training loops vs the reference tutorials', same machine.
bench: venv data
	$(PY) bench/gan_bench.py --fid-minutes 10
	$(PY) bench/vae_bench.py
	$(PY) bench/diffusion_bench.py --fid-minutes 10

clean:
	rm -rf _build .pytest_cache .ruff_cache $(COLAB_VENV)
