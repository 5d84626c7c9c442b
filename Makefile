# Two commands for a new user: `make demo` and `make test`. Both create the virtual environment
# and install the pinned dependencies first, so nothing needs to be installed by hand.
VENV := .venv
PY := $(VENV)/bin/python
SLT := $(VENV)/bin/slt
STAMP := $(VENV)/.installed-stamp
DEMO := demo
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m slt.demo $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
