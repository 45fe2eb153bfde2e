# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

# Corpora are read from ATTENTO_DATA when it is set; a checkout next to ../shared/data uses that.
ifeq ($(origin ATTENTO_DATA), undefined)
  ifneq ($(wildcard ../shared/data/SOURCES.md),)
    export ATTENTO_DATA := $(abspath ../shared/data)
  endif
endif

.PHONY: setup run test test-slow test-wheel test-all test-notebooks notebooks docs docs-build lint screenshots clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -c constraints.txt -e '.[dev,docs]'
	$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith('2.13.0') else 'torch was replaced: ' + v)"
	touch $(STAMP)

run: setup
	$(VENV)/bin/attento explain

test: setup
	$(PY) -m pytest -m "not slow" -q

test-slow: setup
	$(PY) -m pytest -m slow -q

# build the wheel, install it offline into a fresh venv outside the checkout, run it there
test-wheel: setup
	$(PY) -m pytest -q tests/cli/test_wheel.py

# run every course notebook (notebooks/{en,it}) top to bottom with nbclient
test-notebooks: setup
	$(PY) -m pytest -q -m slow tests/notebooks

# rebuild notebooks/{en,it}/*.ipynb (outputs stripped) from their sources in notebooks/src
notebooks: setup
	$(PY) notebooks/build.py

# the docs site: `make docs` serves it on http://127.0.0.1:8001, `make docs-build` checks it
docs: setup
	$(PY) -m mkdocs serve -a 127.0.0.1:8001

docs-build: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

test-all: setup
	$(PY) -m pytest -q

screenshots: setup
	ATTENTO_WRITE_SCREENSHOTS=1 $(PY) -m pytest -q tests/explain/test_browser.py tests/explain/test_browser_encoder.py tests/explain/test_browser_seq2seq.py -k screenshot

lint: setup
	$(VENV)/bin/ruff check src tests bench examples notebooks/src notebooks/build.py docs/hooks.py
	$(VENV)/bin/ruff format --check src tests bench examples notebooks/src notebooks/build.py docs/hooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site .cache
