#!/usr/bin/env bash
# Installs the real OpenAI-API clients that tests/test_real_clients.py drives through the proxy
# (tests/clients/requirements.txt: llm, langchain-openai, openai-agents, instructor, openai) into a venv of their
# own, never into the project's dependencies.
#
# Idempotent and cached: a complete venv carries a marker holding a hash of the requirements and the interpreter's
# version; it is reused while that matches, otherwise removed and rebuilt. Environment:
#   CLIENTS_VENV    the venv (default: <repo>/.cache/clients-venv)
#   PROJECT_PYTHON  the project's interpreter, whose base CPython makes the venv (default: <repo>/.venv/bin/python)
#   PYTHON3         the interpreter that creates the venv (default: the one PROJECT_PYTHON's venv was made from)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../servers/lib.sh"

VENV="${CLIENTS_VENV:-$ROOT/.cache/clients-venv}"
PROJECT_PYTHON="${PROJECT_PYTHON:-$ROOT/.venv/bin/python}"
REQUIREMENTS="$ROOT/tests/clients/requirements.txt"
MARKER="$VENV/.clients-complete"

if [ -z "${PYTHON3:-}" ]; then
    [ -x "$PROJECT_PYTHON" ] || die "no project interpreter at $PROJECT_PYTHON (run make setup first, or set PYTHON3)"
    PYTHON3="$("$PROJECT_PYTHON" -c 'import sys; print(sys._base_executable)')"
fi
STAMP="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON3" --version 2>&1)"

hold_lock "$VENV.lock" 900

if stamped "$MARKER" "$STAMP" && [ -x "$VENV/bin/python" ]; then
    log "cached at $VENV ($STAMP)"
    exit 0
fi

started=$SECONDS
fresh_venv "$VENV" "$PYTHON3"
log "pip install -r tests/clients/requirements.txt"
logged "$VENV.pip.log" "pip install" \
    "$VENV/bin/python" -m pip --disable-pip-version-check --quiet install -r "$REQUIREMENTS"
"$VENV/bin/python" - <<'PY' || die "the clients' venv does not import what it should"
import agents, instructor, langchain_openai, llm, openai
PY
[ -x "$VENV/bin/llm" ] || die "the venv has no llm command"
echo "$STAMP" >"$MARKER"
log "ready in $((SECONDS - started)) s ($(du -sh "$VENV" | cut -f1))"
