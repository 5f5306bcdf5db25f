# shellcheck shell=bash
# Shared helpers for the harness scripts in tools/. Source it; do not run it.
#   log MSG            progress line with the time since the script started: "[  12s] MSG"
#   die MSG            log to stderr and exit 1
#   run_step NAME CMD  run CMD, then log NAME and how long it took
#   heartbeat PID MSG  while PID lives, log MSG every 15 s (so no step is ever silent for a minute)
#   wait_for_lock FD NAME  take an exclusive flock on the open FD, logging every 30 s while another run holds it

LOWMEM_T0=${LOWMEM_T0:-$(date +%s)}
export LOWMEM_T0
LOWMEM_CACHE_DIR=${LOWMEM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lowmem-vps}
export LOWMEM_CACHE_DIR
# Debian's docker client matches Debian's dockerd; a newer client may come first on PATH (/usr/local/bin).
# A function, not a PATH change: reordering PATH would also swap the python3 the scripts use.
if [ -x /usr/bin/docker ]; then
  docker() { /usr/bin/docker "$@"; }
fi

_lowmem_elapsed() { echo $(( $(date +%s) - LOWMEM_T0 )); }

log() { printf '[%4ss] %s\n' "$(_lowmem_elapsed)" "$*"; }

die() { printf '[%4ss] ERROR: %s\n' "$(_lowmem_elapsed)" "$*" >&2; exit 1; }

run_step() {
  local name=$1 t
  shift
  t=$(date +%s)
  log "start: ${name}"
  "$@"
  log "done:  ${name} ($(( $(date +%s) - t ))s)"
}

heartbeat() {
  local pid=$1 msg=$2 t
  t=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    sleep 15
    kill -0 "$pid" 2>/dev/null && log "${msg} ... still running ($(( $(date +%s) - t ))s)"
  done
  return 0
}

wait_for_lock() {
  local fd=$1 name=$2 waited=0
  flock -n "$fd" && return 0
  log "${name}: another run holds the lock (a background build started by tools/test?); waiting for it"
  until flock -w 30 "$fd"; do
    waited=$((waited + 30))
    log "${name}: still waiting for the other run (${waited}s)"
  done
  log "${name}: the other run finished after ~${waited}s; going on (its result is reused when cached)"
}
