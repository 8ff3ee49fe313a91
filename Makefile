# One venv, made on demand. `make test` and `make demo` do all set-up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test demo demo-long lint bench clean verl-check gpu-check gpu-wheels

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, or pip resolves torch to gigabytes of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest tests src/sqlr1x --doctest-modules -n 2 -q

# Offline CPU demo, <= 5 min on 2 idle cores; demo-long (<= 20 min) trains longer (docs/training.md).
demo: $(STAMP)
	$(BIN)/python train_colab.py --model tiny --config configs/demo.yaml --output-dir outputs/demo --demo

demo-long: $(STAMP)
	$(BIN)/python train_colab.py --model tiny --config configs/demo-long.yaml --output-dir outputs/demo-long --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests extensions benchmarks tools train_colab.py
	$(BIN)/ruff format --check src tests extensions benchmarks tools train_colab.py

bench: $(STAMP)
	for b in benchmarks/bench_*.py benchmarks/soak_rewards.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# verl in its own venv (it pins transformers < 5.11), CPU only, ~2 min to build. tests/test_verl_real.py
# (skipped in the main venv): real verl reads our parquet, loads and runs compute_score in its reward
# managers (data_source dispatch, databases from a moved copy, option checks), and composes
# examples/verl/run_grpo.sh's overrides with its own Hydra config + validate_config (both presets,
# `--cfg job`, wrong keys fail). The adapter's and the launch script's unit tests run there too.
VVENV   := .venv-verl
VSTAMP  := $(VVENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(VSTAMP): pyproject.toml
	test -x $(VVENV)/bin/python || $(PY) -m venv $(VVENV)
	$(VVENV)/bin/pip install -q --upgrade pip
	$(VVENV)/bin/pip install -q torch==2.13.0
	$(VVENV)/bin/pip install -q verl transformers==5.10.4
	# Our package without its deps (trl/peft pins would move transformers), then its runtime deps.
	$(VVENV)/bin/pip install -q --no-deps -e .
	$(VVENV)/bin/pip install -q 'sqlglot[c]>=30.0,<31' 'pydantic>=2.6,<3' 'PyYAML>=6.0,<7' \
		'rich>=13,<16' 'tqdm>=4.66,<5' 'pyarrow>=18' 'datasets>=4.0,<6' 'matplotlib>=3.8,<4' 'pytest>=8'
	rm -f $(VVENV)/.installed-*
	touch $@

verl-check: $(VSTAMP)
	$(VVENV)/bin/python -m pytest tests/test_verl_real.py tests/test_verl_rewards.py tests/test_verl_launch.py \
		-q -p no:cacheprovider

# The scripted GPU check (tools/gpu_check.py, docs/training.md): Qwen2.5-Coder-3B (random weights) +
# LoRA on an emulated 24 GB card, no network. `make gpu-wheels` first, on a machine with a registry:
# the wheels the GPU image lacks, one xz bundle under 64 MiB in gpu-wheels/ (ignored; it travels).
# On the GPU machine the check uses its Python (torch, transformers, accelerate, peft preinstalled).
# DRY_RUN=1: the CPU-checkable parts (tests/test_gpu_check.py runs them).
GPU_PY  ?= 3.11
DRY_RUN ?=
GPU_PYTHON ?= $(if $(DRY_RUN),$(BIN)/python,python3)

gpu-wheels:
	$(PY) tools/gpu_check.py --download-wheels --python-version $(GPU_PY)

gpu-check: $(if $(DRY_RUN),$(STAMP),)
	$(GPU_PYTHON) tools/gpu_check.py $(if $(DRY_RUN),--dry-run,)

clean:
	rm -rf $(VENV) $(VVENV) outputs .pytest_cache gpu-wheels
