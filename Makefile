# Two commands for a new user: `make demo` and `make test`. Both create the virtual environment
# and install the pinned dependencies first, so nothing needs to be installed by hand. `make bench`
# adds the benchmarks' extras and rewrites BENCHMARKS.md (about 40 minutes on 2 cores).
VENV := .venv
PY := $(VENV)/bin/python
SLT := $(VENV)/bin/slt
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
DEMO := demo
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Each demo step leaves a file, so an interrupted `make demo` picks up where it stopped; an
# interrupted training run is continued (--resume), not restarted.
resume = $(if $(wildcard $(1)/config.json),--resume)
DEMO_SIZE := --train 600 --dev 60 --test 60
demo: $(DEMO)/.stage2-done
	$(SLT) translate $(DEMO)/data/keypoints/test/test-00000.parquet $(DEMO)/data/keypoints/test/test-00001.parquet --model $(DEMO)/stage2
	grep -E '^(name|test/test-0000[01])' $(DEMO)/data/annotations.csv | cut -d, -f1,2
	$(SLT) evaluate $(DEMO)/stage2 --split test

$(DEMO)/data/annotations.csv: | $(STAMP)
	$(SLT) synth $(DEMO)/data $(DEMO_SIZE)

$(DEMO)/.stage1-done: $(DEMO)/data/annotations.csv
	$(SLT) train --stage 1 --config configs/stage1_cpu.yaml --data $(DEMO)/data/keypoints \
		--annotations $(DEMO)/data/annotations.csv --out $(DEMO)/stage1 $(call resume,$(DEMO)/stage1)
	touch $@

$(DEMO)/llm/config.json: $(DEMO)/data/annotations.csv
	$(SLT) make-llm $(DEMO)/llm --corpus $(DEMO)/data/annotations.csv --arch seq2seq --overwrite

$(DEMO)/.stage2-done: $(DEMO)/.stage1-done $(DEMO)/llm/config.json
	$(SLT) train --stage 2 --init $(DEMO)/stage1 --llm $(DEMO)/llm --epochs 6 --out $(DEMO)/stage2 $(call resume,$(DEMO)/stage2)
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

# The quick loop while changing code: everything but the tests marked slow (processes, MediaPipe, Ray).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

$(BENCH_STAMP): $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
