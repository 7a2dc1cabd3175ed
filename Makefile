# Two commands (see README):
#   make notebooks   set everything up and open JupyterLab on notebooks/
#   make test        set everything up and run the whole test suite (pytest, then nbval on every notebook)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: notebooks test setup system-deps lint pytest nbval bench clean

# JupyterLab refuses to start as root unless told --allow-root: as root (a container, a cloud VM) it is
# passed, for anyone else the command is unchanged
JUPYTER_ROOT = $(shell [ "$$(id -u)" = 0 ] && echo "--allow-root")

notebooks: setup
	$(VENV)/bin/jupyter lab $(JUPYTER_ROOT) notebooks/

# every part runs even when one fails, so one run shows everything that is wrong
test: setup system-deps
	@status=0; $(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory pytest || status=1; \
	$(MAKE) --no-print-directory nbval || status=1; exit $$status

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("netstudy needs Python >= 3.10, this is " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

system-deps:
	@scripts/system-deps.sh

# ruff (lint) and mypy (types), configured in pyproject.toml
lint: setup
	@status=0; $(VENV)/bin/ruff check --output-format concise netstudy tests benchmarks scripts || status=1; \
	$(VENV)/bin/mypy || status=1; exit $$status

pytest: setup
	$(PY) -m pytest tests/

# With root and network namespaces (how the stored outputs were recorded: live, the lab built) every cell's
# output is compared with the stored one. Otherwise the notebooks take their fallbacks (recorded captures,
# the unprivileged ICMP socket, a replayed lab), whose outputs differ by design: nbval then runs them in lax
# mode, every cell executed and every assertion in the cells checked.
nbval: setup
	@mode=$$($(PY) -c 'import netstudy; c = netstudy.capabilities(); print("--nbval" if c.root and c.namespaces else "--nbval-lax")'); \
	[ "$$mode" = "--nbval" ] || echo "nbval: no root or no network namespaces here, so the notebooks take their" \
	  "fallbacks and their stored outputs (recorded as root, live) are not compared; the cells' own checks still run"; \
	echo "$(PY) -m pytest -p no:randomly $$mode ... notebooks/"; \
	$(PY) -m pytest -p no:randomly $$mode --nbval-current-env --nbval-cell-timeout=120 \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
