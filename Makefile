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

# The venv's Python: PYTHON=... if given, else the first of python3.12, python3.11, python3.10, python3 whose
# version the pins support. mediapipe==0.10.21 has wheels for CPython 3.9-3.12 only, and `python3` is 3.13 on
# current distributions, where pip would fail without naming the cause. Expanded only when the venv is made.
PYTHONS_SUPPORTED := 3.10 3.11 3.12
python_version = $(or $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null),not runnable)
supported_pythons = $(foreach p,$(1),$(if $(filter $(PYTHONS_SUPPORTED),$(call python_version,$(p))),$(p)))
comma := ,
python_found = $(if $(PYTHON),PYTHON=$(PYTHON) is $(call python_version,$(PYTHON)),python3 is $(call \
	python_version,python3) and there is no python3.12$(comma) python3.11 or python3.10)
VENV_PYTHON = $(or $(firstword $(call supported_pythons,$(or $(PYTHON),python3.12 python3.11 python3.10 python3))),$(error \
	$(python_found): slt needs Python 3.10-3.12 (its pinned mediapipe==0.10.21 has wheels for those only); \
	install one$(comma) or pass PYTHON=/path/to/python3.12))

$(PY):
	$(VENV_PYTHON) -m venv $(VENV)

# A venv that an earlier `make` left under an unsupported Python (its pip install failed) is named, not reused.
# (Under `make -n` there may be no venv yet.)
venv_fits = $(if $(wildcard $(PY)),$(if $(filter $(PYTHONS_SUPPORTED),$(call python_version,$(PY))),,$(error $(VENV) was made \
	with Python $(call python_version,$(PY)); slt needs 3.10-3.12 (mediapipe==0.10.21 has wheels for those only): rm -rf \
	$(VENV)$(comma) then make setup)))

$(STAMP): pyproject.toml | $(PY)
	$(venv_fits)$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Each demo step leaves a file, so an interrupted `make demo` picks up where it stopped; an
# interrupted training run is continued (--resume), not restarted. Stage 2 fine-tunes the whole made LLM
# (the paper's choice for mBART): LoRA suits a large pretrained LLM, not a 5M-parameter one.
resume = $(if $(wildcard $(1)/config.json),--resume)
DEMO_SIZE := --train 600 --dev 60 --test 60
demo: $(DEMO)/.stage2-done
	$(SLT) translate $(DEMO)/data/keypoints/test/test-00000.parquet $(DEMO)/data/keypoints/test/test-00001.parquet --model $(DEMO)/stage2
	grep -E '^(name|test/test-0000[01])' $(DEMO)/data/annotations.csv | cut -d, -f1,2
	$(SLT) evaluate $(DEMO)/stage2 --split test

# text.txt: 10,000 more sentences of the toy language (none a dev or test one), the monolingual text the made
# LLM learns beyond the signed sentences, as a real LLM knows far more language than any signed corpus.
$(DEMO)/data/annotations.csv: | $(STAMP)
	$(SLT) synth $(DEMO)/data $(DEMO_SIZE) --text 10000

$(DEMO)/.stage1-done: $(DEMO)/data/annotations.csv
	$(SLT) train --stage 1 --config configs/stage1_cpu.yaml --data $(DEMO)/data/keypoints \
		--annotations $(DEMO)/data/annotations.csv --out $(DEMO)/stage1 $(call resume,$(DEMO)/stage1)
	touch $@

$(DEMO)/llm/config.json: $(DEMO)/data/annotations.csv
	$(SLT) make-llm $(DEMO)/llm --corpus $(DEMO)/data/annotations.csv --corpus $(DEMO)/data/text.txt --arch seq2seq \
		--steps 1000 --overwrite

$(DEMO)/.stage2-done: $(DEMO)/.stage1-done $(DEMO)/llm/config.json
	$(SLT) train --stage 2 --init $(DEMO)/stage1 --llm $(DEMO)/llm --epochs 12 --finetune full --lr-llm 3e-4 \
		--out $(DEMO)/stage2 $(call resume,$(DEMO)/stage2)
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
