# Test, demo and lint commands. `make help` lists them.
PYTHON ?= python3
PYTEST_ODOO_VERSION ?= 2.3.0
ADDONS := $(patsubst %/__manifest__.py,%,$(wildcard */__manifest__.py))

.PHONY: help test test-core test-pytest-odoo demo lint clean

help:
	@echo "make test              core suite, then the Odoo suites when Odoo 18 is importable"
	@echo "make test-core         core suite only (same as RP_SKIP_ODOO=1 make test)"
	@echo "make test-pytest-odoo  the Odoo suites through pytest-odoo"
	@echo "make demo [SERVE=1] [REUSE=1]"
	@echo "                       demo database with one billing cycle; SERVE=1 keeps Odoo"
	@echo "                       serving it, REUSE=1 serves the existing demo database again"
	@echo "make lint              ruff and pylint-odoo"
	@echo "make clean             remove build/ (logs, reports, the demo cluster)"

test:
	$(PYTHON) tools/rp_test.py

test-core:
	RP_SKIP_ODOO=1 $(PYTHON) tools/rp_test.py

# pytest-odoo goes in build/ rather than in the environment: its pytest plugin imports
# odoo whenever pytest starts, which would break the core suite where Odoo is absent.
test-pytest-odoo: build/pytest-odoo/pytest_odoo.py
	$(PYTHON) tools/rp_test.py --pytest-odoo

build/pytest-odoo/pytest_odoo.py:
	$(PYTHON) -m pip install --quiet --no-deps --target build/pytest-odoo \
		"pytest-odoo==$(PYTEST_ODOO_VERSION)"

demo:
	$(PYTHON) tools/rp_demo.py $(if $(SERVE),--serve) $(if $(REUSE),--reuse)

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pylint --rcfile=.pylintrc $(ADDONS)

clean:
	rm -rf build
