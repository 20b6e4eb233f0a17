# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit notebooks servers browser bench bench-peers clean clean-servers clean-bench

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/python -m puter_magic demo

lint: setup
	$(BIN)/ruff check puter_magic tests benchmarks
	$(BIN)/ruff format --check puter_magic tests benchmarks

typecheck: setup
	$(BIN)/mypy

# Real OpenAI-compatible servers for the tests: llama.cpp's llama-server (Debian testing, in a debootstrap
# chroot) and transformers serve (its own venv). Idempotent and cached under .cache/.
servers: setup
	GGUF_PYTHON=$(abspath $(BIN)/python) bash tests/servers/setup_llama.sh
	bash tests/servers/setup_transformers.sh

# Debian's Chromium for tests/browser: Playwright drives /usr/bin/chromium (its own browser download is not used).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

unit: setup servers browser
	$(BIN)/python -m pytest

notebooks: setup
	$(BIN)/python -m pytest --nbval notebooks/ --nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:cacheprovider

test: lint typecheck unit notebooks

# The peers (putergenai, puter-python-sdk, jupyter-ai-magics) in their own venv, .cache/bench-peers; idempotent, cached.
bench-peers: setup
	PROJECT_PYTHON=$(abspath $(BIN)/python) bash benchmarks/peers/setup.sh

bench: setup bench-peers
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

clean-bench:
	rm -rf .cache/bench-peers .cache/bench-peers.lock .cache/bench-peers.pip.log .cache/bench-results.json

clean-servers:
	rm -rf --one-file-system .cache/llama-chroot .cache/tf-venv .cache/hf-home
