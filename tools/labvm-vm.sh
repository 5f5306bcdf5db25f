# shellcheck shell=bash disable=SC2034  # globals here are read by the scripts that source it
# tools/labvm-vm.sh -- what tools/labvm (instances) and tools/labvm-image (the base image build)
# share: state paths, host tools, SSH, the accelerator choice, qemu under its supervisor, and the
# boot wait (wait_ready, with its pure decision function boot_verdict). Source it after lib.sh,
# with SCRIPT_PATH set to the sourcing script (it must accept the `_supervise` command).
# tools/labvm-image hashes this file into the image's cache key: editing it rebuilds the image.

ACCEL_MODE=${LABVM_ACCEL:-auto}   # auto | kvm | tcg
BOOT_TIMEOUT=${LABVM_BOOT_TIMEOUT:-300}
TIMEOUT_EXPLICIT=${LABVM_BOOT_TIMEOUT:+1}
BOOT_STALL=${LABVM_BOOT_STALL:-60}          # s without console output that make a boot "stalled"
BOOT_CAP_FACTOR=${LABVM_BOOT_CAP_FACTOR:-3} # hard cap = base timeout x this
BOOT_PANIC_GRACE=10   # s the supervisor gets to replace a panicked qemu before the boot counts as failed
# CPU model under TCG. Not "max,svm=off,vmx=off": with qemu 7.2 that guest boots but its
# kernel reports garbage mount paths and a dozen units fail (measured). Cost of "max": the
# guest sees svm and loads kvm_amd (~1.6 MB of modules).
TCG_CPU=${LABVM_TCG_CPU:-max}
# Virtual CPUs (2 by default, one per core of this machine's kind).
LABVM_SMP=${LABVM_SMP:-2}
[[ $LABVM_SMP =~ ^[1-9][0-9]*$ ]] || { echo "LABVM_SMP must be a whole number of CPUs, got '$LABVM_SMP'" >&2; exit 2; }
# guest ports forwarded besides SSH, each to a free port on 127.0.0.1 (`tools/labvm info` lists them): the lab entry
# shape's nginx stream listener to sshd (443), nginx's HTTP API (8080) and the proxy stand-in's inbound sink (8443)
LABVM_FORWARDS=${LABVM_FORWARDS-443 8080 8443}

LABVM_DIR=$LOWMEM_CACHE_DIR/labvm
KEY=$LABVM_DIR/id_ed25519
INST_ROOT=$LABVM_DIR/instances
IMAGE_DIR=$LABVM_DIR/images
# KVM probe results (own directory: older checkouts keep theirs in $ACCEL_DIR/kvm-probe)
ACCEL_DIR=$LABVM_DIR/accel
PROBE_KERNEL=${PROBE_KERNEL:-}    # set by the caller: a kernel of the image being booted
SSH_COMMON_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

# host command -> Debian package that provides it
HOST_TOOLS=(
  qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils debootstrap:debootstrap
  ssh:openssh-client ssh-keygen:openssh-client sfdisk:fdisk mkfs.ext4:e2fsprogs
  flock:util-linux timeout:coreutils sha256sum:coreutils pkill:procps
)

# ---------------------------------------------------------------- helpers

# with_heartbeat (a command in the background with a heartbeat) and apt_install are in tools/lib.sh.

# qemu_pid DIR: print the PID of the qemu that runs from DIR, if it is alive.
qemu_pid() {
  local dir=$1 pid
  [[ -s $dir/qemu.pid ]] || return 1
  pid=$(tr -dc '0-9' <"$dir/qemu.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/" || return 1
  printf '%s' "$pid"
}

# inst_pid DIR: print the PID of the instance's supervisor (see cmd__supervise), if alive.
# The supervisor stays for the life of the VM; qemu itself is replaced at each guest reboot.
inst_pid() {
  local dir=$1 pid
  [[ -s $dir/supervisor.pid ]] || return 1
  pid=$(tr -dc '0-9' <"$dir/supervisor.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$dir" || return 1
  printf '%s' "$pid"
}

console_tail() {
  local dir=$1 n=${2:-30}
  [[ -f $dir/console.log ]] || { echo "(no console log)"; return 0; }
  tail -n "$n" "$dir/console.log" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g'
}

console_last_line() {
  [[ -f $1/console.log ]] || return 0
  tail -c 4000 "$1/console.log" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' \
    | tr -cd '\11\12\40-\176' | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-110
}

ssh_base() {  # ssh_base PORT -> prints nothing; fills SSH_CMD array
  SSH_CMD=(ssh -i "$KEY" -p "$1" "${SSH_COMMON_OPTS[@]}" -o BatchMode=yes -o IdentitiesOnly=yes
           -o ConnectTimeout=10 -o ServerAliveInterval=15 root@127.0.0.1)
}

# guest_ssh DIR CMD...: run a command in the guest of instance dir DIR.
guest_ssh() {
  local dir=$1
  shift
  ssh_base "$(cat "$dir/port")"
  "${SSH_CMD[@]}" "$@"
}

read_banner() {
  # qemu's forward accepts before the guest listens: only an "SSH-" line proves sshd is up.
  # shellcheck disable=SC2016
  timeout 8 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -t 6 line <&3 || exit 1
    printf "%s" "${line%%[[:cntrl:]]*}"' _ "$1" 2>/dev/null || true
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p _ used
  used=$(cat "$INST_ROOT"/*/port 2>/dev/null || true)
  for _ in $(seq 1 100); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 20000 ))
    grep -qx "$p" <<<"$used" && continue
    port_free "$p" && { echo "$p"; return 0; }
  done
  die "no free TCP port found on 127.0.0.1"
}

# ---------------------------------------------------------------- host tools, key

ensure_host_tools() {
  local entry cmd pkg missing=()
  for entry in "${HOST_TOOLS[@]}"; do
    cmd=${entry%%:*} pkg=${entry#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  [[ $(id -u) == 0 ]] || die "missing host packages (${missing[*]}); install them as root"
  log "installing host packages: ${missing[*]}"
  apt_install labvm "${missing[@]}"
}

ensure_key() {
  mkdir -p "$LABVM_DIR"
  [[ -s $KEY && -s $KEY.pub ]] && return 0
  rm -f "$KEY" "$KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C labvm -f "$KEY"
  log "generated SSH key $KEY"
}

# ---------------------------------------------------------------- accelerator

# choose_accel: sets ACCEL (kvm|tcg) and ACCEL_ARGS.
choose_accel() {
  local mode=$ACCEL_MODE
  if [[ $mode == auto ]]; then
    if kvm_works; then mode=kvm; else mode=tcg; fi
  fi
  case $mode in
    kvm) ACCEL=kvm ACCEL_ARGS=(-accel kvm -cpu "$(cat "$ACCEL_DIR/kvm-cpu" 2>/dev/null || echo host)") ;;
    tcg) ACCEL=tcg ACCEL_ARGS=(-accel "tcg,thread=multi" -cpu "$TCG_CPU") ;;
    *) die "LABVM_ACCEL must be auto, kvm or tcg (got $mode)" ;;
  esac
}

kvm_probe_key() {
  echo "$(cat /proc/sys/kernel/random/boot_id) $(qemu-system-x86_64 --version | head -n1) $(sha256sum <"$PROBE_KERNEL" | cut -c1-16)"
}

# kvm_works: boot the guest kernel under KVM with no root fs; it must reach its
# "cannot mount root" panic (-no-reboot then ends qemu). A KVM that starts but cannot run
# the guest (nested virtualisation errors) fails here. Cached per host boot.
kvm_works() {
  local key result cpu log=$ACCEL_DIR/kvm-probe.log
  mkdir -p "$ACCEL_DIR"
  [[ -r /dev/kvm && -w /dev/kvm ]] || { log "accel: /dev/kvm not usable -> TCG"; return 1; }
  [[ -n $PROBE_KERNEL && -s $PROBE_KERNEL ]] || { log "accel: no probe kernel yet -> TCG"; return 1; }
  key=$(kvm_probe_key)
  if [[ -f $ACCEL_DIR/kvm-probe ]] && [[ $(head -n1 "$ACCEL_DIR/kvm-probe") == "$key" ]]; then
    result=$(sed -n 2p "$ACCEL_DIR/kvm-probe")
  else
    result=no
    local qpid why
    for cpu in host max qemu64; do
      log "accel: probing KVM (-cpu $cpu) with a kernel boot"
      rm -f "$log" "$log.stderr" "$log.rc"
      # The subshell (not exec'd: a command follows) absorbs bash's "Aborted" report when
      # qemu dies on an assertion; timeout bounds a qemu that hangs after a KVM error.
      ( set +e; timeout -s KILL 30 qemu-system-x86_64 -accel kvm -cpu "$cpu" -m 256 -smp 1 -display none \
          -nodefaults -no-reboot -serial "file:$log" -kernel "$PROBE_KERNEL" \
          -append "console=ttyS0 panic=-1 root=/dev/labvm-none" >"$log.stderr" 2>&1 7>&- 8>&-
        echo "$?" >"$log.rc" ) 2>/dev/null &
      qpid=$!
      for _ in $(seq 1 40); do   # a working KVM panics in ~1-3 s
        [[ -e $log.rc ]] && break
        grep -qE 'KVM internal error|emulation failure' "$log.stderr" 2>/dev/null && break
        grep -qE 'Kernel panic|VFS: Unable to mount root' "$log" 2>/dev/null && break
        sleep 0.5
      done
      # TERM to `timeout` (the subshell's child), which passes it on to qemu
      [[ -e $log.rc ]] || pkill -TERM -P "$qpid" 2>/dev/null || true
      { wait "$qpid"; } 2>/dev/null || true
      if grep -qE 'Kernel panic|VFS: Unable to mount root' "$log" 2>/dev/null; then
        result=yes
        echo "$cpu" >"$ACCEL_DIR/kvm-cpu"
        break
      fi
      why=$(grep -m1 -E 'internal error|Assertion|error' "$log.stderr" 2>/dev/null | cut -c1-100 || true)
      log "accel: KVM -cpu $cpu failed: ${why:-no kernel output within 20s}"
    done
    printf '%s\n%s\n' "$key" "$result" >"$ACCEL_DIR/kvm-probe"
  fi
  if [[ $result == yes ]]; then
    log "accel: KVM works (-cpu $(cat "$ACCEL_DIR/kvm-cpu"))"
    return 0
  fi
  log "accel: KVM does not run the guest here -> TCG (-accel tcg,thread=multi -cpu $TCG_CPU)"
  return 1
}

# ---------------------------------------------------------------- qemu

# launch_qemu DIR DISK MEM [EXTRA QEMU ARGS...]: start the VM under a detached supervisor
# (cmd__supervise); state files in DIR.
launch_qemu() {
  local dir=$1 disk=$2 mem=$3 port attempt spid _
  shift 3
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    # the guest's other service ports (LABVM_FORWARDS), each on its own free host port: "GUEST HOST" lines
    local fwd="hostfwd=tcp:127.0.0.1:$port-:22" g h
    : >"$dir/forwards.new"
    for g in $LABVM_FORWARDS; do
      h=$(pick_port)
      while [[ $h == "$port" ]] || grep -q " $h\$" "$dir/forwards.new"; do h=$(pick_port); done
      fwd+=",hostfwd=tcp:127.0.0.1:$h-:$g"
      echo "$g $h" >>"$dir/forwards.new"
    done
    rm -f "$dir/qemu.pid" "$dir/supervisor.pid"
    : >"$dir/console.log"
    echo 0 >"$dir/console.off"
    : >"$dir/qemu.stderr"
    echo 0 >"$dir/reboots"
    setsid "$SCRIPT_PATH" _supervise "$dir" -name "labvm-$(basename "$dir")" "${ACCEL_ARGS[@]}" \
      -m "$mem" -smp "$LABVM_SMP" -display none -monitor none \
      -drive "file=$disk,format=raw,if=virtio,cache=unsafe,discard=unmap" \
      -netdev "user,id=n0,$fwd" -device virtio-net-pci,netdev=n0 \
      -device virtio-rng-pci "$@" </dev/null >>"$dir/supervisor.log" 2>&1 7>&- 8>&- &
    spid=$!
    for _ in $(seq 1 100); do   # qemu writes its pidfile once it runs
      qemu_pid "$dir" >/dev/null && break
      kill -0 "$spid" 2>/dev/null || inst_pid "$dir" >/dev/null || break
      sleep 0.1
    done
    if qemu_pid "$dir" >/dev/null && inst_pid "$dir" >/dev/null; then
      echo "$port" >"$dir/port"
      mv "$dir/forwards.new" "$dir/forwards"
      echo "$ACCEL" >"$dir/accel"
      date +%s >"$dir/started"
      log "qemu started: pid $(qemu_pid "$dir") (supervisor $(inst_pid "$dir")), ${mem} MB, accel $ACCEL, ssh on 127.0.0.1:$port"
      return 0
    fi
    kill_instance "$dir"
    if grep -qi 'host forwarding' "$dir/qemu.stderr"; then
      log "port $port taken meanwhile; retrying ($attempt)"
      continue
    fi
    cat "$dir/qemu.stderr" "$dir/supervisor.log" >&2
    die "qemu failed to start"
  done
  die "qemu could not bind a forwarding port"
}

# kill_instance DIR: SIGTERM to the supervisor (it stops qemu), SIGKILL to both after 5 s.
kill_instance() {
  local dir=$1 spid qpid _
  spid=$(inst_pid "$dir" || true)
  qpid=$(qemu_pid "$dir" || true)
  [[ -n $spid$qpid ]] || { rm -f "$dir/qemu.pid" "$dir/supervisor.pid"; return 0; }
  kill -TERM ${spid:+"$spid"} ${qpid:+"$qpid"} 2>/dev/null || true
  for _ in $(seq 1 25); do
    { [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; } || { [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; } || break
    sleep 0.2
  done
  if { [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; } || { [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; }; then
    log "VM in $dir ignored SIGTERM; sending SIGKILL"
    kill -KILL ${spid:+"$spid"} ${qpid:+"$qpid"} 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$dir/qemu.pid" "$dir/supervisor.pid"
}

# `labvm _supervise DIR QEMU-ARGS...` (internal, started detached by launch_qemu): runs qemu
# with -no-reboot and, when the guest reboots, starts a fresh qemu on the same disk and port.
# Why: under TCG a warm reset boots ever slower through GRUB (kernel+initrd loading went from
# ~10 s to 60-150 s after the first reboots, measured); a cold qemu start does not. A guest
# power-off, a qemu failure or SIGTERM ends the supervisor.
cmd__supervise() {
  local dir=$1 qpid='' rc off stopping=0 panicked=0 panics=0
  shift
  echo "$$" >"$dir/supervisor.pid"
  trap 'stopping=1; [[ -z $qpid ]] || kill -TERM "$qpid" 2>/dev/null || true' TERM INT HUP
  while :; do
    off=$(stat -c %s "$dir/console.log" 2>/dev/null || echo 0)
    echo "$off" >"$dir/console.off"   # where this qemu's console output starts (wait_ready reads it)
    qemu-system-x86_64 "$@" -no-reboot -pidfile "$dir/qemu.pid" \
      -chardev "file,id=con0,path=$dir/console.log,append=on" -serial chardev:con0 \
      >>"$dir/qemu.stderr" 2>&1 &
    qpid=$!
    panicked=0
    # Poll rather than `wait`: a guest kernel panic leaves qemu running (the kernel just halts).
    # Multi-threaded TCG now and then hits an early-boot "Oops: int3" while the kernel patches its
    # own code; such a boot never comes up, so it is treated like a reboot: a fresh qemu.
    while kill -0 "$qpid" 2>/dev/null; do
      sleep 2
      if ((!stopping)) && tail -c "+$((off + 1))" "$dir/console.log" 2>/dev/null | grep -qa 'Kernel panic - not syncing'; then
        panicked=1
        kill -KILL "$qpid" 2>/dev/null || true
      fi
    done
    rc=0
    wait "$qpid" 2>/dev/null || rc=$?
    rm -f "$dir/qemu.pid"
    qpid=''
    if ((stopping)); then
      echo "$(date '+%F %T') stopped by signal"
      break
    fi
    if ((panicked)); then
      panics=$((panics + 1))
      if ((panics > 3)); then
        echo "$(date '+%F %T') guest kernel panicked $panics times in a row: giving up"
        break
      fi
      echo "$(date '+%F %T') guest kernel panicked (see console.log): starting a fresh qemu"
      continue
    fi
    panics=0
    if tail -c "+$((off + 1))" "$dir/console.log" | grep -qaE 'reboot: (Restarting system|machine restart)'; then
      echo "$(( $(cat "$dir/reboots" 2>/dev/null || echo 0) + 1 ))" >"$dir/reboots"
      echo "$(date '+%F %T') guest rebooted: starting a fresh qemu"
      continue
    fi
    echo "$(date '+%F %T') qemu exited (rc $rc): guest powered off or qemu failed"
    break
  done
  rm -f "$dir/supervisor.pid"
}

# other_vms DIR: how many other labvm qemus run (TCG VMs share the cores: boots slow down).
other_vms() {
  local d n=0
  for d in "$INST_ROOT"/*/ "$LABVM_DIR"/build*/*/; do
    [[ -d $d && ${d%/} != "$1" ]] || continue
    inst_pid "${d%/}" >/dev/null && n=$((n + 1))
  done
  echo "$n"
}

# ---------------------------------------------------------------- boot wait

# progress_track NOW SIZE: remember when the console log last changed size. State in
# PROGRESS_SIZE / PROGRESS_T (set PROGRESS_SIZE=-1 PROGRESS_T=<start> before the first call).
progress_track() {
  local now=$1 size=$2
  if [[ $size != "$PROGRESS_SIZE" ]]; then
    PROGRESS_SIZE=$size PROGRESS_T=$now
  fi
}

# boot_verdict ELAPSED QUIET BASE STALL CAP [FATAL FATAL_AGE]: decide what a boot wait does next,
# from numbers only (no I/O, so tests can feed it synthetic console progress). Prints one word:
#   wait     keep waiting (before the base timeout; a quiet console is normal then: under TCG,
#            GRUB loading the kernel and initrd prints nothing for a minute or more)
#   extend   past the base timeout, but the console changed within the last STALL s: keep going
#   stalled  past the base timeout and no console change for STALL s
#   slow     the hard cap CAP is reached while the console is still progressing
#   failed   FATAL is "emergency" (emergency/initramfs shell), or "panic" seen for FATAL_AGE >=
#            BOOT_PANIC_GRACE s (the supervisor replaces a panicked qemu within a few seconds; a
#            panic that stays is final)
# ELAPSED: s since the wait began; QUIET: s since the console log last changed.
boot_verdict() {
  local elapsed=$1 quiet=$2 base=$3 stall=$4 cap=$5 fatal=${6:-} fatal_age=${7:-0}
  case $fatal in
    emergency) echo failed; return 0 ;;
    panic) if ((fatal_age >= BOOT_PANIC_GRACE)); then echo failed; return 0; fi ;;
  esac
  if ((elapsed < base)); then echo wait; return 0; fi
  if ((quiet >= stall)); then echo stalled; return 0; fi
  if ((elapsed >= cap)); then echo slow; return 0; fi
  echo extend
}

# boot_watch_init T0 BASE STALL CAP: start watching a boot (state in BW_* and PROGRESS_*).
boot_watch_init() {
  BW_T0=$1 BW_BASE=$2 BW_STALL=$3 BW_CAP=$4 BW_FATAL='' BW_FATAL_T=$1 BW_QUIET=0 BW_VERDICT=wait
  PROGRESS_SIZE=-1 PROGRESS_T=$1
}

# boot_observe NOW SIZE [FATAL_KIND]: one sample of the console (its size, and "panic" or
# "emergency" when console_fatal saw one); sets BW_VERDICT (see boot_verdict) and BW_QUIET.
boot_observe() {
  local now=$1 size=$2 kind=${3:-}
  progress_track "$now" "$size"
  if [[ $kind != "$BW_FATAL" ]]; then BW_FATAL=$kind BW_FATAL_T=$now; fi
  BW_QUIET=$((now - PROGRESS_T))
  BW_VERDICT=$(boot_verdict $((now - BW_T0)) "$BW_QUIET" "$BW_BASE" "$BW_STALL" "$BW_CAP" \
    "$BW_FATAL" $((now - BW_FATAL_T)))
}

# console_fatal DIR: if the console output of the current qemu (from console.off) shows a
# kernel panic or an emergency shell, print "panic LINE" or "emergency LINE".
console_fatal() {
  local dir=$1 off line
  off=$( { tr -dc '0-9' <"$dir/console.off"; } 2>/dev/null || true)
  line=$(tail -c "+$(( ${off:-0} + 1 ))" "$dir/console.log" 2>/dev/null | tr -d '\r' \
    | grep -a -m1 -E 'You are in emergency mode|Entering emergency mode|Give root password for maintenance|Dropping to a shell|^\(initramfs\)' \
    || true)
  if [[ -n $line ]]; then printf 'emergency %s' "${line:0:110}"; return 0; fi
  line=$(tail -c "+$(( ${off:-0} + 1 ))" "$dir/console.log" 2>/dev/null | tr -d '\r' \
    | grep -a -m1 'Kernel panic - not syncing' || true)
  if [[ -n $line ]]; then printf 'panic %s' "${line:0:110}"; fi
  return 0
}

# wait_ready DIR BASE: wait for the SSH banner, then for `ssh true`. BASE (s) grows by 150 s per
# other running VM unless LABVM_BOOT_TIMEOUT or --timeout set it explicitly. Past BASE the wait
# goes on while the console log keeps changing (within LABVM_BOOT_STALL s), up to
# LABVM_BOOT_CAP_FACTOR x BASE. Sets BOOT_RESULT (ready|slow-ready|stalled|slow|failed|exited)
# and BOOT_SECONDS; the log line says which.
wait_ready() {
  local dir=$1 base=$2 port t0 now elapsed quiet last phase=banner banner others cap stall
  local extended=0 fatal took
  port=$(cat "$dir/port")
  others=$(other_vms "$dir")
  if ((others > 0)); then
    if [[ -z ${TIMEOUT_EXPLICIT:-} ]]; then base=$((base + 150 * others)); fi
    log "$others other VM(s) running: under TCG they share the 2 cores, so this boot is slower"
  fi
  stall=$BOOT_STALL cap=$((base * BOOT_CAP_FACTOR))
  t0=$(date +%s) last=$t0
  boot_watch_init "$t0" "$base" "$stall" "$cap"
  BOOT_RESULT='' BOOT_SECONDS=0
  log "waiting for SSH on 127.0.0.1:$port (base ${base}s; then extended while the console progresses, stall ${stall}s, cap ${cap}s)"
  while :; do
    now=$(date +%s) elapsed=$((now - t0))
    if ! inst_pid "$dir" >/dev/null; then
      BOOT_RESULT=exited BOOT_SECONDS=$elapsed
      fatal=$(console_fatal "$dir")
      log "failed: qemu exited after ${elapsed}s${fatal:+ (${fatal#* })}; last 30 console lines:"
      console_tail "$dir" 30 >&2
      [[ -s $dir/qemu.stderr ]] && cat "$dir/qemu.stderr" >&2
      return 1
    fi
    if [[ $phase == banner ]]; then
      banner=$(read_banner "$port")
      if [[ $banner == SSH-* ]]; then
        log "SSH banner after ${elapsed}s: $banner"
        phase=ssh
      fi
    fi
    if [[ $phase == ssh ]]; then
      ssh_base "$port"
      if timeout 40 "${SSH_CMD[@]}" true </dev/null >/dev/null 2>"$dir/ssh.err"; then
        took=$(( $(date +%s) - t0 ))
        BOOT_SECONDS=$took
        if ((extended)); then
          BOOT_RESULT=slow-ready
          log "slow boot: ready after ${took}s (base ${base}s), extended because the console was still progressing"
        else
          BOOT_RESULT=ready
          log "ssh ready after ${took}s (within the base ${base}s)"
        fi
        return 0
      fi
    fi
    now=$(date +%s) elapsed=$((now - t0))
    fatal=$(console_fatal "$dir")
    boot_observe "$now" "$(stat -c %s "$dir/console.log" 2>/dev/null || echo 0)" "${fatal%% *}"
    quiet=$BW_QUIET
    case $BW_VERDICT in
      wait) ;;
      extend)
        if ((!extended)); then
          extended=1
          log "base timeout ${base}s reached, no SSH $phase yet, but the console changed ${quiet}s ago: extending (stall ${stall}s, cap ${cap}s)"
        fi ;;
      stalled | slow | failed)
        BOOT_RESULT=$BW_VERDICT BOOT_SECONDS=$elapsed
        case $BW_VERDICT in
          stalled) log "stalled: no SSH $phase after ${elapsed}s and no console output for ${quiet}s; last 30 console lines:" ;;
          slow) log "slow: still booting after ${elapsed}s (hard cap ${cap}s; console changed ${quiet}s ago, no SSH $phase); last 30 console lines:" ;;
          failed) log "failed: ${fatal#* } (after ${elapsed}s); last 30 console lines:" ;;
        esac
        console_tail "$dir" 30 >&2
        [[ $phase == ssh ]] && cat "$dir/ssh.err" >&2
        return 1 ;;
    esac
    if ((now - last >= 15)); then
      log "waiting for SSH $phase (${elapsed}s/${base}s$( ((extended)) && echo ", extended, cap ${cap}s"); console ${quiet}s quiet): $(console_last_line "$dir")"
      last=$now
    fi
    sleep 2
  done
}
