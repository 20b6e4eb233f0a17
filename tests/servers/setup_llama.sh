#!/usr/bin/env bash
# Installs llama.cpp's `llama-server` for the real-server tests: Debian testing's `llama.cpp-tools` in a minimal
# debootstrap chroot (bookworm has no llama.cpp; testing's needs a newer libc, hence the chroot), then writes the
# tiny random-weight GGUF models into the chroot's /models (and the tool-calling one into /tool-models).
# See shared/openai-servers.md.
#
# Idempotent and cached: a complete chroot carries a marker file and is reused; an incomplete one is removed and
# rebuilt. Needs root (debootstrap, chroot). Environment:
#   PUTER_MAGIC_SERVERS_CACHE  the cache folder (default: <repo>/.cache)
#   LLAMA_CHROOT   where the chroot lives (default: $PUTER_MAGIC_SERVERS_CACHE/llama-chroot)
#   GGUF_PYTHON    the Python with the `gguf` package that writes the models (default: <repo>/.venv/bin/python)
#   LLAMA_TINY_MODELS  0 skips the tiny models (`make demo` needs only the chroot; the tests need them; default 1)
#   DEBIAN_MIRROR  (default: http://deb.debian.org/debian)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROOT="${LLAMA_CHROOT:-$CACHE/llama-chroot}"
PYTHON="${GGUF_PYTHON:-$ROOT/.venv/bin/python}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=testing
MARKER="$CHROOT/.puter-magic-complete"

hold_lock "$CACHE/setup_llama.lock" 1500

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"

# Unmount whatever is mounted below the chroot (a /proc left by an interrupted router run, or by an interrupted
# debootstrap), deepest first, so that removing the folder never walks into the host's /proc or /sys.
unmount_below() {
    local target
    while read -r target; do
        log "unmounting $target"
        umount "$target" 2>/dev/null || umount -l "$target" || die "cannot unmount $target"
    done < <(awk -v root="$CHROOT/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

install_debootstrap() {
    command -v debootstrap >/dev/null && return
    log "installing debootstrap with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; then
        log "apt-get install failed: refreshing the package lists (apt-get update) and retrying"
        apt-get update -q || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap || die "cannot install debootstrap"
    fi
}

build_chroot() {
    unmount_below
    if [ -e "$CHROOT" ]; then
        log "removing the incomplete chroot at $CHROOT"
        rm -rf --one-file-system "$CHROOT"
    fi
    mkdir -p "$(dirname "$CHROOT")"
    log "debootstrap --variant=minbase --include=llama.cpp-tools $SUITE $CHROOT $MIRROR (about 25 s, ~275 MB)"
    local started=$SECONDS
    if ! debootstrap --variant=minbase --include=llama.cpp-tools "$SUITE" "$CHROOT" "$MIRROR" \
        >"$CHROOT.debootstrap.log" 2>&1; then
        tail -n 30 "$CHROOT.debootstrap.log" >&2
        [ -f "$CHROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$CHROOT/debootstrap/debootstrap.log" >&2
        unmount_below
        die "debootstrap failed (log: $CHROOT.debootstrap.log)"
    fi
    unmount_below
    rm -f "$CHROOT.debootstrap.log"
    log "debootstrap done in $((SECONDS - started)) s"
}

if [ -f "$MARKER" ] && [ -x "$CHROOT/usr/bin/llama-server" ]; then
    log "chroot cached at $CHROOT"
else
    install_debootstrap
    build_chroot
    [ -x "$CHROOT/usr/bin/llama-server" ] || die "debootstrap finished but $CHROOT/usr/bin/llama-server is missing"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
fi

version="$(chroot "$CHROOT" llama-server --version 2>&1)" || die "llama-server --version failed: $version"
log "llama-server --version: $(echo "$version" | tr '\n' ' ')"
log "package: $(chroot "$CHROOT" dpkg-query -W -f='${Package} ${Version}' llama.cpp-tools)"

if [ "${LLAMA_TINY_MODELS:-1}" = 0 ]; then
    log "ready (without the tiny models: LLAMA_TINY_MODELS=0)"
    exit 0
fi
[ -x "$PYTHON" ] || die "no Python at $PYTHON (run 'make setup' first, or set GGUF_PYTHON)"
"$PYTHON" -c 'import gguf' 2>/dev/null ||
    die "$PYTHON lacks the 'gguf' package: pip install 'gguf==0.19.0' (it is a dev dependency)"
"$PYTHON" "$ROOT/tests/servers/make_tiny_gguf.py" --out "$CHROOT/models"
# The tool-calling model lives outside /models: router mode serves every file in its --models-dir.
"$PYTHON" "$ROOT/tests/servers/make_tiny_tools_gguf.py" --out "$CHROOT/tool-models"
log "ready"
