# Two commands on a fresh machine: `make run` (the whole pipeline locally, to a serving prod API)
# and `make test`. Both build .venv from the pinned requirements on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml model/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r model/requirements.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sagepipe demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/serving.py

clean:
	-$(BIN)/sagepipe down
	rm -rf $(VENV) .sagepipe
