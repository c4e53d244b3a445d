# mfat: the two commands of the README are `make book` and `make test`.
#   make book [PROFILE=quick|cpu|full] [ONLY="01 02"] [RUNFLAGS="--replay"]   environment, data, chapters, site
#   make test                                                          environment, data, test suite
#   make edition                  every chapter from its best committed tier (full, else cpu), replayed; the site
#   make replay                   replay every committed tier (claims asserted again; the book's pages untouched)
#   make pdf                      the built site as one PDF, _build/html/mfat-book.pdf (system Chromium)
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= quick
ONLY     ?=
RUNFLAGS ?=
EDITIONFLAGS ?=
EXECUTOR ?=
PYTEST_ARGS ?=

.PHONY: book test site-test chromium venv data chapters site bench clean edition replay pdf

$(VENV)/.installed: requirements.txt requirements-cluster.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-cluster.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

data: venv
	$(PY) -m mfat.data fetch

chapters: venv data
	$(PY) -m mfat run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY)) $(if $(EXECUTOR),--executor $(EXECUTOR)) $(RUNFLAGS)

site: venv
	$(PY) -m mfat build

book: chapters site
	@echo "The book is in _build/html/index.html"

edition: venv data
	$(PY) -m mfat edition $(if $(ONLY),--only $(ONLY)) $(EDITIONFLAGS)
	@echo "The edition is in _build/html/index.html"

replay: venv data
	$(PY) -m mfat replay $(if $(ONLY),--only $(ONLY))

test: venv data
	$(PY) -m pytest -q $(PYTEST_ARGS)

# the built site as one PDF, printed by Debian's chromium (run after `make book`; the introduction links it)
pdf: venv chromium
	$(PY) -m mfat pdf

# checks of the built site in headless Chromium (Debian's chromium; run after `make book`)
site-test: venv chromium pdf
	$(PY) -m pytest -q -m browser tests/browser

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "error: install Debian's chromium (apt-get install chromium, as root)"; exit 1; }

bench: venv data
	for script in scripts/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf _build _output book/[0-9][0-9]_*.ipynb book/scorecard.md book/status.md .cache
