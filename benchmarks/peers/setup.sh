#!/usr/bin/env bash
# Installs the peers `make bench` compares puter_magic with (benchmarks/peers/requirements.txt) into a venv of their
# own, never into the project's dependencies. IPython is pinned to the project venv's version so that the two
# `%load_ext` timings run on the same IPython.
#
# Idempotent and cached: a complete venv carries a marker holding a hash of the requirements (and the pinned IPython);
# it is reused while that matches, otherwise removed and rebuilt.
# Environment:
#   BENCH_PEERS_VENV  the venv (default: <repo>/.cache/bench-peers)
#   PROJECT_PYTHON    the project's interpreter, whose IPython version is pinned (default: <repo>/.venv/bin/python)
#   PYTHON3           the interpreter that creates the venv (default: the one PROJECT_PYTHON's venv was made from)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${BENCH_PEERS_VENV:-$ROOT/.cache/bench-peers}"
PROJECT_PYTHON="${PROJECT_PYTHON:-$ROOT/.venv/bin/python}"
REQUIREMENTS="$ROOT/benchmarks/peers/requirements.txt"
MARKER="$VENV/.bench-peers-complete"

log() { echo "[bench-peers] $*"; }
die() {
    echo "[bench-peers] ERROR: $*" >&2
    exit 1
}

[ -x "$PROJECT_PYTHON" ] || die "no project interpreter at $PROJECT_PYTHON (run make setup first)"
# The same CPython build as the project venv, so that both sides of every comparison run on one interpreter.
PYTHON3="${PYTHON3:-$("$PROJECT_PYTHON" -c 'import sys; print(sys._base_executable)')}"
IPYTHON_VERSION="$("$PROJECT_PYTHON" -c 'from importlib.metadata import version; print(version("ipython"))')"
STAMP="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) ipython==$IPYTHON_VERSION $("$PYTHON3" --version 2>&1)"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock" # one set-up at a time
flock -w 900 9 || die "another set-up holds $VENV.lock"

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
    log "cached at $VENV ($STAMP)"
    exit 0
fi

started=$SECONDS
if [ -e "$VENV" ]; then
    log "removing the incomplete or outdated venv at $VENV"
    rm -rf "$VENV"
fi
log "creating $VENV with $("$PYTHON3" --version 2>&1)"
"$PYTHON3" -m venv "$VENV" || die "python3 -m venv failed"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check --quiet)
log "pip install -r benchmarks/peers/requirements.txt ipython==$IPYTHON_VERSION"
"${pip[@]}" install -r "$REQUIREMENTS" "ipython==$IPYTHON_VERSION" >"$VENV.pip.log" 2>&1 ||
    { tail -n 40 "$VENV.pip.log" >&2; die "pip install failed (log: $VENV.pip.log)"; }
"$VENV/bin/python" - <<PY || die "the peers' venv does not import what it should"
import putergenai, puter, jupyter_ai_magics, pyinstrument, IPython
assert IPython.__version__ == "$IPYTHON_VERSION", IPython.__version__
PY
echo "$STAMP" >"$MARKER"
log "ready in $((SECONDS - started)) s ($(du -sh "$VENV" | cut -f1))"
