# What the set-up scripts of the real-server and real-client tests share; sourced by them, never run. It sets ROOT
# (the repository) and CACHE (the servers' cache folder: $PUTER_MAGIC_SERVERS_CACHE, default <repo>/.cache), and
# gives log lines and errors that name the script, one set-up at a time, cache markers, venvs built afresh and
# commands whose output goes to a log.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PUTER_MAGIC_SERVERS_CACHE:-$ROOT/.cache}"
SCRIPT_NAME="$(basename "${BASH_SOURCE[1]}" .sh)"

log() { echo "[$SCRIPT_NAME] $*"; }
die() {
    echo "[$SCRIPT_NAME] ERROR: $*" >&2
    exit 1
}

# hold_lock FILE SECONDS: wait at most SECONDS for the lock FILE and keep it until the script exits, so that one
# set-up runs at a time (e.g. two test sessions starting together).
hold_lock() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    flock -w "$2" 9 || die "another set-up holds $1"
}

# stamped MARKER STAMP: whether a complete earlier run left MARKER holding STAMP.
stamped() {
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

# logged LOG WHAT COMMAND...: run COMMAND with its output in LOG; when it fails, show LOG's end and stop.
logged() {
    local log_file=$1 what=$2
    shift 2
    "$@" >"$log_file" 2>&1 || {
        tail -n 40 "$log_file" >&2
        die "$what failed (log: $log_file)"
    }
}

# fresh_venv VENV PYTHON: remove whatever is at VENV (an incomplete or outdated venv) and create it anew with PYTHON.
fresh_venv() {
    if [ -e "$1" ]; then
        log "removing the incomplete or outdated venv at $1"
        rm -rf "$1"
    fi
    mkdir -p "$(dirname "$1")"
    log "creating $1 with $("$2" --version 2>&1)"
    "$2" -m venv "$1" || die "$2 -m venv failed"
}
