# shellcheck shell=bash
# Shared helpers for the harness scripts in tools/. Source it; do not run it.
#   log MSG            progress line with the time since the script started: "[  12s] MSG"
#   die MSG            log to stderr and exit 1
#   run_step NAME CMD  run CMD, then log NAME and how long it took
#   heartbeat PID MSG  while PID lives, log MSG every 15 s (so no step is ever silent for a minute)
#   wait_for_lock FD NAME  take an exclusive flock on the open FD, logging every 30 s while another run holds it
#   with_heartbeat [--out FILE | --append FILE] MSG CMD...  run CMD in the background (its output to FILE when given)
#                      while heartbeat logs MSG every 15 s; return CMD's status
#   apt_install NAME PKG...  as root on Debian, apt-get install PKG... (no recommends) with a heartbeat, running
#                      apt-get update first when apt does not know them (and once more before a retry when the install
#                      fails); the apt output goes to $LOWMEM_CACHE_DIR/apt-NAME.log; dies when that fails
#   hash_key [N]       the first N (default 64) hex digits of the SHA-256 of stdin: every cache key of the harness
#   find_python X.Y    print the path of a Python X.Y on this machine: pythonX.Y on PATH, else the newest
#                      ${PYENV_ROOT:-~/.pyenv}/versions/X.Y.*; return 1 (printing nothing) when there is none

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

with_heartbeat() {
  local out='' append='' msg pid hb kids rc=0
  case $1 in
    --out) out=$2; shift 2 ;;
    --append) out=$2; append=1; shift 2 ;;
  esac
  msg=$1
  shift
  if [ -z "$out" ]; then
    "$@" &
  elif [ -n "$append" ]; then
    "$@" >>"$out" 2>&1 &
  else
    "$@" >"$out" 2>&1 &
  fi
  pid=$!
  heartbeat "$pid" "$msg" &
  hb=$!
  wait "$pid" || rc=$?
  # The heartbeat's sleep is a child of its own: stop it too, so nothing lingers on our stdout.
  kids=$(pgrep -P "$hb" 2>/dev/null || true)
  kill "$hb" 2>/dev/null || true
  # shellcheck disable=SC2086
  [ -z "$kids" ] || kill $kids 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  return "$rc"
}

apt_install() {
  local name=$1 apt_log
  shift
  apt_log=$LOWMEM_CACHE_DIR/apt-${name}.log
  if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ]; then
    die "missing packages; as root on Debian: apt-get install $*"
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q)
  mkdir -p "$LOWMEM_CACHE_DIR"
  : >"$apt_log"
  log "installing $* (apt log: ${apt_log})"
  if ! apt-cache show "$@" >/dev/null 2>&1; then
    log "apt lists do not know $*: running apt-get update"
    with_heartbeat --append "$apt_log" "apt-get update" "${apt[@]}" update || die "apt-get update failed; see ${apt_log}"
  fi
  if ! with_heartbeat --append "$apt_log" "apt-get install $*" "${apt[@]}" install --no-install-recommends "$@"; then
    log "apt-get install $* failed; running apt-get update and retrying"
    with_heartbeat --append "$apt_log" "apt-get update" "${apt[@]}" update || true
    with_heartbeat --append "$apt_log" "apt-get install $*" "${apt[@]}" install --no-install-recommends "$@" ||
      { tail -n 20 "$apt_log" >&2; die "apt-get install $* failed; see ${apt_log}"; }
  fi
  log "installed $*"
}

# Keep it exactly `sha256sum | cut -c1-N`: every cached venv, test image and lab VM image is found by these keys.
hash_key() {
  sha256sum | cut -c1-"${1:-64}"
}

find_python() {
  local want=$1 cand got
  while IFS= read -r cand; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    got=$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' </dev/null 2>/dev/null) || continue
    [ "$got" = "$want" ] && { echo "$cand"; return 0; }
  done < <(command -v "python${want}" 2>/dev/null || true
           find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -mindepth 3 -maxdepth 3 -path "*/versions/${want}.*/bin/python${want}" \
             2>/dev/null | sort -rV)
  return 1
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
