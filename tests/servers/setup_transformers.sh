#!/usr/bin/env bash
# Installs `transformers serve` for the real-server tests: a separate venv with torch 2.13.0 and
# transformers[serving], then a tiny random Llama in a Hugging Face cache that the server loads with
# HF_HUB_OFFLINE=1. See shared/openai-servers.md.
#
# torch is pinned to 2.13.0 and comes from wherever pip finds it: pip's own index and find-links (a machine whose
# pip config points at a folder of CPU wheels takes the file from there), TORCH_WHEEL when given, or
# TORCH_INDEX_URL. On Linux, PyPI's torch is the CUDA build (several GB);
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu takes the CPU build (a few hundred MB) instead.
# Idempotent and cached: a complete venv and a complete model carry marker files and are reused; an incomplete
# venv is removed and rebuilt.
# Environment:
#   PUTER_MAGIC_SERVERS_CACHE  the cache folder (default: <repo>/.cache)
#   TF_VENV      the venv (default: $PUTER_MAGIC_SERVERS_CACHE/tf-venv)
#   TF_HF_HOME   the Hugging Face home holding the model (default: $PUTER_MAGIC_SERVERS_CACHE/hf-home)
#   TORCH_WHEEL  a torch 2.13.0 wheel file to install (default: none; pip picks one)
#   TORCH_INDEX_URL  the index torch comes from (default: pip's configured index)
#   PYTHON3      the interpreter that creates the venv (default: python3; must match TORCH_WHEEL's cp tag)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV="${TF_VENV:-$CACHE/tf-venv}"
HF_HOME_DIR="${TF_HF_HOME:-$CACHE/hf-home}"
PYTHON3="${PYTHON3:-python3}"
TORCH_VERSION=2.13.0
TRANSFORMERS_VERSION=5.23.0
REPO_ID=puter-magic/tiny-llama
# Bump when the pins or the model generator change, so that cached copies are rebuilt.
VENV_STAMP="torch==$TORCH_VERSION transformers[serving]==$TRANSFORMERS_VERSION"
VENV_MARKER="$VENV/.puter-magic-complete"
MODEL_MARKER="$HF_HOME_DIR/.puter-magic-complete"

hold_lock "$CACHE/setup_transformers.lock" 1500

build_venv() {
    local started=$SECONDS
    local torch_source=("torch==$TORCH_VERSION")
    if [ -n "${TORCH_WHEEL:-}" ]; then
        [ -f "$TORCH_WHEEL" ] || die "TORCH_WHEEL=$TORCH_WHEEL is not a file"
        torch_source=("$TORCH_WHEEL")
    elif [ -n "${TORCH_INDEX_URL:-}" ]; then
        torch_source+=(--index-url "$TORCH_INDEX_URL")
    fi
    fresh_venv "$VENV" "$PYTHON3"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
    echo "torch==$TORCH_VERSION" >"$VENV/constraints.txt"  # also holds a local build such as 2.13.0+cpu
    log "pip install ${torch_source[*]} (torch's own dependencies come from the index)"
    logged "$VENV/pip-torch.log" "installing torch" \
        "${pip[@]}" install -c "$VENV/constraints.txt" "${torch_source[@]}"
    log "pip install transformers[serving]==$TRANSFORMERS_VERSION (torch held at $TORCH_VERSION)"
    logged "$VENV/pip-transformers.log" "installing transformers[serving]" \
        "${pip[@]}" install -c "$VENV/constraints.txt" "transformers[serving]==$TRANSFORMERS_VERSION"
    "$VENV/bin/python" - <<EOF || die "the venv does not import torch/transformers as pinned"
import torch, transformers, fastapi, uvicorn
assert torch.__version__.split("+")[0] == "$TORCH_VERSION", torch.__version__
assert transformers.__version__ == "$TRANSFORMERS_VERSION", transformers.__version__
EOF
    echo "$VENV_STAMP" >"$VENV_MARKER"
    log "venv ready in $((SECONDS - started)) s ($(du -sh "$VENV" | cut -f1))"
}

if stamped "$VENV_MARKER" "$VENV_STAMP" && [ -x "$VENV/bin/transformers" ]; then
    log "venv cached at $VENV"
else
    build_venv
fi

generator="$ROOT/tests/servers/make_tiny_hf.py"
model_stamp="$REPO_ID $(sha1sum "$generator" | cut -d' ' -f1)"
if stamped "$MODEL_MARKER" "$model_stamp"; then
    log "model $REPO_ID cached in $HF_HOME_DIR"
else
    log "writing the tiny model $REPO_ID into $HF_HOME_DIR"
    mkdir -p "$HF_HOME_DIR"
    HF_HUB_OFFLINE=1 HF_HOME="$HF_HOME_DIR" "$VENV/bin/python" "$generator" --hf-home "$HF_HOME_DIR" \
        --repo-id "$REPO_ID" || die "writing the tiny model failed"
    echo "$model_stamp" >"$MODEL_MARKER"
fi
log "$(cat "$VENV_MARKER"); serve with: HF_HOME=$HF_HOME_DIR HF_HUB_OFFLINE=1 $VENV/bin/transformers serve --host 127.0.0.1 --port PORT"
log "ready"
