#!/usr/bin/env bash
# Installs Cline's two client stacks (tests/clients/node/package.json, pinned by its package-lock.json: openai-node,
# ai + @ai-sdk/openai-compatible) from the npm registry into .cache/node-clients, beside the script that drives
# them (cline_clients.mjs; Node resolves its imports from the folder it sits in). tests/test_cline_requests.py
# runs them live against the proxy.
#
# Idempotent and cached: `npm ci` runs only when the lock file (or Node's version) changed since the last complete
# install; the script itself is copied every time. Environment: NODE_CLIENTS (default <repo>/.cache/node-clients).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../servers/lib.sh"

SOURCE="$ROOT/tests/clients/node"
TARGET="${NODE_CLIENTS:-$ROOT/.cache/node-clients}"
MARKER="$TARGET/.install-complete"

command -v node >/dev/null || die "node is not installed (Node 20 or newer is needed)"
command -v npm >/dev/null || die "npm is not installed"
STAMP="$(cat "$SOURCE/package.json" "$SOURCE/package-lock.json" | sha256sum | cut -d' ' -f1) node $(node --version)"

mkdir -p "$TARGET"
hold_lock "$TARGET.lock" 600

cp "$SOURCE/cline_clients.mjs" "$TARGET/"
if stamped "$MARKER" "$STAMP" && [ -d "$TARGET/node_modules" ]; then
    log "cached at $TARGET ($STAMP)"
    exit 0
fi
rm -f "$MARKER"
cp "$SOURCE/package.json" "$SOURCE/package-lock.json" "$TARGET/"
log "npm ci in $TARGET"
(cd "$TARGET" && logged "$TARGET/npm.log" "npm ci" npm ci --no-audit --no-fund --ignore-scripts)
echo "$STAMP" >"$MARKER"
log "installed at $TARGET"
