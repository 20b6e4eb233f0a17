#!/usr/bin/env bash
# Installs `transformers serve` for the real-server tests: a separate venv with torch 2.13.0 (CPU, from the local
# wheel this machine kind ships) and transformers[serving], then a tiny random Llama in a Hugging Face cache that
# the server loads with HF_HUB_OFFLINE=1. See shared/openai-servers.md.
#
# Idempotent and cached: a complete venv and a complete model carry marker files and are reused; an incomplete
# venv is removed and rebuilt. Never lets pip fetch a torch from the index (that one would pull GBs of CUDA).
# Environment:
#   PUTER_MAGIC_SERVERS_CACHE  the cache folder (default: <repo>/.cache)
#   TF_VENV      the venv (default: $PUTER_MAGIC_SERVERS_CACHE/tf-venv)
#   TF_HF_HOME   the Hugging Face home holding the model (default: $PUTER_MAGIC_SERVERS_CACHE/hf-home)
#   TORCH_WHEEL  a torch 2.13.0 CPU wheel file (default: searched for in $PIP_FIND_LINKS and /opt/wheels)
#   PYTHON3      the interpreter that creates the venv (default: python3; must match the wheel's cp tag)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PUTER_MAGIC_SERVERS_CACHE:-$ROOT/.cache}"
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

mkdir -p "$CACHE"
exec 9>"$CACHE/setup_transformers.lock"  # one set-up at a time, e.g. two test sessions starting together
flock -w 1500 9 || { echo "[setup_transformers] ERROR: another set-up holds $CACHE/setup_transformers.lock" >&2; exit 1; }

log() { echo "[setup_transformers] $*"; }
die() {
    echo "[setup_transformers] ERROR: $*" >&2
    exit 1
}

find_torch_wheel() {
    if [ -n "${TORCH_WHEEL:-}" ]; then
        [ -f "$TORCH_WHEEL" ] || die "TORCH_WHEEL=$TORCH_WHEEL is not a file"
        echo "$TORCH_WHEEL"
        return
    fi
    local tag dir wheel
    tag="$("$PYTHON3" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
        dir="${dir#file://}"
        [ -d "$dir" ] || continue
        for wheel in "$dir"/torch-"$TORCH_VERSION"+cpu-"$tag"-"$tag"-*linux*_x86_64.whl; do
            [ -f "$wheel" ] && echo "$wheel" && return
        done
    done
    die "no local torch-$TORCH_VERSION+cpu wheel for $tag in PIP_FIND_LINKS or /opt/wheels; set TORCH_WHEEL=FILE" \
        "(refusing to let pip fetch torch from the index: that one pulls GBs of CUDA libraries)"
}

build_venv() {
    local wheel started=$SECONDS
    wheel="$(find_torch_wheel)"
    if [ -e "$VENV" ]; then
        log "removing the incomplete or outdated venv at $VENV"
        rm -rf "$VENV"
    fi
    mkdir -p "$(dirname "$VENV")"
    log "creating $VENV with $("$PYTHON3" --version)"
    "$PYTHON3" -m venv "$VENV" || die "python3 -m venv failed"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
    echo "torch==$TORCH_VERSION+cpu" >"$VENV/constraints.txt"
    log "pip install $wheel (torch's own dependencies come from the index)"
    "${pip[@]}" install -c "$VENV/constraints.txt" "$wheel" >"$VENV/pip.log" 2>&1 ||
        { tail -n 40 "$VENV/pip.log" >&2; die "installing torch failed (log: $VENV/pip.log)"; }
    log "pip install transformers[serving]==$TRANSFORMERS_VERSION (torch held at $TORCH_VERSION+cpu)"
    "${pip[@]}" install -c "$VENV/constraints.txt" "transformers[serving]==$TRANSFORMERS_VERSION" \
        >>"$VENV/pip.log" 2>&1 ||
        { tail -n 40 "$VENV/pip.log" >&2; die "installing transformers[serving] failed (log: $VENV/pip.log)"; }
    "$VENV/bin/python" - <<EOF || die "the venv does not import torch/transformers as pinned"
import torch, transformers, fastapi, uvicorn
assert torch.__version__ == "$TORCH_VERSION+cpu", torch.__version__
assert transformers.__version__ == "$TRANSFORMERS_VERSION", transformers.__version__
EOF
    echo "$VENV_STAMP" >"$VENV_MARKER"
    log "venv ready in $((SECONDS - started)) s ($(du -sh "$VENV" | cut -f1))"
}

if [ -f "$VENV_MARKER" ] && [ "$(cat "$VENV_MARKER")" = "$VENV_STAMP" ] && [ -x "$VENV/bin/transformers" ]; then
    log "venv cached at $VENV"
else
    build_venv
fi

generator="$ROOT/tests/servers/make_tiny_hf.py"
model_stamp="$REPO_ID $(sha1sum "$generator" | cut -d' ' -f1)"
if [ -f "$MODEL_MARKER" ] && [ "$(cat "$MODEL_MARKER")" = "$model_stamp" ]; then
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
