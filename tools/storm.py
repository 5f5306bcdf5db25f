#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/storm.py -- one memory storm on a running lab VM, measured from this machine.

    tools/storm.py run --name INSTANCE [--seed N] [--duration S] [--min-ttl-ms MS] [--side LABEL] [--round K]
                       [--streams N] [--json OUT]

The VM (tools/labvm, with its forwards of 443, 8080 and 8443) must carry the lab entry shape
(tools/lab/entry_shape.yml). The storm:

1. starts the low-priority stand-ins (hysteria with its inbound sink, tuic-server, filebrowser) and a sampler of
   /proc/meminfo once a second (OOMScoreAdjust=-1000: the measurement must outlive the storm), notes the entry
   services' PIDs, and sets /sys/kernel/mm/lru_gen/min_ttl_ms when asked (skipped with a note where it is missing);
2. starts a hog that grows by about 10 MiB of incompressible bytes every 0.2 s (seeded steps) until something kills
   it, while this machine pushes TCP streams into the stand-in's sink (half bulk, half small packets with
   TCP_NODELAY: the guest's network receive path stays busy), and probes once a second, 5 s timeout each: SSH through
   the nginx stream port (443) and HTTP to the API behind nginx (8080);
3. ends at --duration, or 10 s after the hog is gone (the SSH probe reports it), stops the traffic, probes SSH via
   443 until it answers (at most 12 tries, a second apart: the result's ssh_after), then reads the samples and the
   kernel's and earlyoom's lines since the start with the collection's one kernel-log parser (kills: who, by whom;
   page allocation failures), and the entry services' PIDs again; stops the stand-ins and puts min_ttl_ms back.

One round's result is a JSON object (see bench/storm_report.py for the fields). Times are seconds from the hog's
start: the guest's (samples, kills) from its own clock, the probes from this machine's clock when the start command
returned (the two agree within about a second). Test traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABVM = os.path.join(ROOT, 'tools', 'labvm')
STANDINS = ('hysteria', 'tuic-server', 'filebrowser')
ENTRY_SERVICES = ('ssh', 'nginx', 'supervisor')
PROBE_TIMEOUT = 5.0
TAIL_AFTER_HOG = 10.0
# Once the storm is over (traffic stopped): SSH via :443 is probed until it answers, at most this many times, a second
# apart. A TCG guest that has just lost a hog can take longer than the 10 s tail to answer again; "SSH came back" is
# this probe's answer, not the storm's last probe.
AFTER_TRIES = 12
SSH_OPTS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
            '-o', 'BatchMode=yes']


def kernel_log():
    """The collection's one kernel-log parser, loaded from this checkout (it imports nothing of Ansible)."""
    path = os.path.join(ROOT, 'plugins', 'module_utils', 'kernel_log.py')
    spec = importlib.util.spec_from_file_location('lowmem_kernel_log', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vm_info(name):
    out = subprocess.run([LABVM, 'info', '--name', name], check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    if not info.get('running'):
        raise SystemExit('storm: instance %s is not running (tools/labvm start --name %s)' % (name, name))
    missing = [port for port in ('443', '8080', '8443') if port not in info.get('forwards', {})]
    if missing:
        raise SystemExit('storm: instance %s has no forward of guest port(s) %s: restart it with this tools/labvm'
                         % (name, ', '.join(missing)))
    return info


def ssh_argv(info, port=None, timeout=None):
    argv = ['ssh', '-p', str(port or info['port']), '-i', info['identity_file']] + SSH_OPTS
    if timeout:
        argv += ['-o', 'ConnectTimeout=%d' % timeout]
    return argv + ['%s@%s' % (info['user'], info['host'])]


def guest(info, script, timeout=300):
    """Run a bash script on the guest over its SSH port; return stdout (raise with stderr on failure)."""
    done = subprocess.run(ssh_argv(info) + ['bash', '-s'], input=script, capture_output=True, text=True, check=False,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError('storm: guest script failed (rc %d): %s' % (done.returncode, done.stderr.strip()[-800:]))
    return done.stdout


def start_script(seed, min_ttl_ms, step_mib, every, swap_off=False):
    units = ' '.join('lowmem-lab-standin@%s' % name for name in STANDINS)
    readies = ' '.join('/run/lowmem-lab-standin-%s.ready' % name for name in STANDINS)
    return r'''set -euo pipefail
systemctl stop lowmem-storm-hog lowmem-storm-sampler {units} >/dev/null 2>&1 || true
systemctl reset-failed lowmem-storm-hog lowmem-storm-sampler >/dev/null 2>&1 || true
rm -f /run/lowmem-storm-samples /run/lowmem-storm-hog.pid
ttl=none
if [ {ttl} -ge 0 ]; then
  if [ -w /sys/kernel/mm/lru_gen/min_ttl_ms ]; then
    cat /sys/kernel/mm/lru_gen/min_ttl_ms >/run/lowmem-storm-ttl-before
    echo {ttl} >/sys/kernel/mm/lru_gen/min_ttl_ms
    ttl=$(cat /sys/kernel/mm/lru_gen/min_ttl_ms)
  else
    ttl=missing
  fi
fi
if [ {swap_off} = 1 ]; then swapoff -a; fi
systemctl start {units}
for i in $(seq 1 600); do
  ok=1; for f in {readies}; do [ -e "$f" ] || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.2
done
[ $ok = 1 ] || {{ echo "the stand-ins did not come up" >&2; exit 1; }}
pids=$(systemctl show -p MainPID --value {entry} | tr '\n' ' ')
cat >/run/lowmem-storm-sampler <<'SAMPLER'
while :; do
  awk 'FNR == 1 && FILENAME == "/proc/uptime" {{ t = $1 }}
       /^(MemTotal|MemAvailable|SwapTotal|SwapFree):/ {{ v[$1] = $2 }}
       END {{ print t, v["MemTotal:"], v["MemAvailable:"], v["SwapTotal:"], v["SwapFree:"] }}' \
    /proc/uptime /proc/meminfo >>/run/lowmem-storm-samples
  sleep 1
done
SAMPLER
systemd-run --quiet --unit lowmem-storm-sampler -p OOMScoreAdjust=-1000 /bin/sh /run/lowmem-storm-sampler
read -r up _ </proc/uptime
epoch=$(date +%s.%N)
systemd-run --quiet --unit lowmem-storm-hog /usr/bin/python3 /usr/local/lib/lowmem-lab/standin.py hog --grow {step} --every {every} --seed {seed}
systemctl show -p MainPID --value lowmem-storm-hog >/run/lowmem-storm-hog.pid
hog=$(cat /run/lowmem-storm-hog.pid)
boot=$(cat /proc/sys/kernel/random/boot_id)
echo "{{\"uptime\": $up, \"epoch\": $epoch, \"pids\": \"$pids\", \"ttl\": \"$ttl\", \"hog\": $hog, \"boot_id\": \"$boot\"}}"
'''.format(units=units, readies=readies, ttl=min_ttl_ms if min_ttl_ms is not None else -1,
           entry=' '.join(ENTRY_SERVICES), step=int(step_mib), every=float(every), seed=int(seed),
           swap_off=1 if swap_off else 0)


def collect_script(since_epoch):
    units = ' '.join('lowmem-lab-standin@%s' % name for name in STANDINS)
    return r'''set -uo pipefail
systemctl stop lowmem-storm-sampler lowmem-storm-hog >/dev/null 2>&1
systemctl reset-failed lowmem-storm-hog lowmem-storm-sampler >/dev/null 2>&1
echo "boot_id $(cat /proc/sys/kernel/random/boot_id)"
echo "pids $(systemctl show -p MainPID --value {entry} | tr '\n' ' ')"
for s in {entry}; do echo "active $s $(systemctl is-active $s)"; done
echo "penalty_drops $(journalctl -b -q --no-pager -o cat -u ssh --since @{since:d} | grep -c ' penalty: ')"
if [ -e /run/lowmem-storm-ttl-before ]; then cat /run/lowmem-storm-ttl-before >/sys/kernel/mm/lru_gen/min_ttl_ms; rm -f /run/lowmem-storm-ttl-before; fi
systemctl stop {units} >/dev/null 2>&1
systemctl reset-failed {units} >/dev/null 2>&1
swapon -a
echo "--- samples"
cat /run/lowmem-storm-samples
echo "--- journal"
journalctl -b -q --no-pager -o short-unix --since @{since:d} _TRANSPORT=kernel + SYSLOG_IDENTIFIER=earlyoom
true
'''.format(entry=' '.join(ENTRY_SERVICES), units=units, since=int(since_epoch))


# ---------------------------------------------------------------- traffic (a process of its own: no GIL shared with the probes)

def _bulk(port, stop, sent, rate):
    chunk = os.urandom(64 * 1024)
    while not stop.is_set():
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as conn:
                started, count = time.monotonic(), 0
                while not stop.is_set():
                    conn.sendall(chunk)
                    count += len(chunk)
                    with sent.get_lock():
                        sent.value += len(chunk)
                    ahead = count / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            stop.wait(0.5)


def _small(port, stop, sent, per_second):
    payload = os.urandom(64)
    while not stop.is_set():
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while not stop.is_set():
                    for unused in range(per_second // 10):
                        conn.sendall(payload)
                    with sent.get_lock():
                        sent.value += len(payload) * (per_second // 10)
                    time.sleep(0.1)
        except OSError:
            stop.wait(0.5)


def _traffic(port, streams, stop, sent, bulk_rate, small_rate):
    threads = []
    for index in range(streams):
        target, arg = (_bulk, bulk_rate) if index % 2 == 0 else (_small, small_rate)
        threads.append(threading.Thread(target=target, args=(port, stop, sent, arg), daemon=True))
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=6)


# ---------------------------------------------------------------- probes

def probe_ssh(info, t0, results, lock):
    t = time.monotonic() - t0
    argv = ssh_argv(info, port=info['forwards']['443'], timeout=int(PROBE_TIMEOUT)) + [
        'kill -0 $(cat /run/lowmem-storm-hog.pid) 2>/dev/null && echo hog-alive || echo hog-gone']
    started = time.monotonic()
    entry = {'t': round(t, 2), 'ok': False, 'latency_s': None, 'error': None, 'hog': None}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL,
                              check=False)
        entry['ok'] = done.returncode == 0
        entry['hog'] = {'hog-alive': 'alive', 'hog-gone': 'gone'}.get(done.stdout.strip())
        if not entry['ok']:
            entry['error'] = (done.stderr.strip().splitlines() or ['rc %d' % done.returncode])[-1][:160]
    except subprocess.TimeoutExpired:
        entry['error'] = 'timeout'
    entry['latency_s'] = round(time.monotonic() - started, 3)
    with lock:
        results.append(entry)


def probe_after(info, t0, tries=AFTER_TRIES, probe=None, pause=1.0):
    """SSH via :443 once the storm is over: probe until one answers, at most ``tries`` times, ``pause`` s apart.

    Returns {'ok', 'tries', 'probes'}: ok is the last probe's answer."""
    probe = probe or probe_ssh
    results, lock = [], threading.Lock()
    for attempt in range(max(1, tries)):
        if attempt:
            time.sleep(pause)
        probe(info, t0, results, lock)
        if results[-1]['ok']:
            break
    return {'ok': bool(results[-1]['ok']), 'tries': len(results), 'probes': results}


def probe_http(info, t0, results, lock):
    t = time.monotonic() - t0
    url = 'http://127.0.0.1:%d/api/health' % info['forwards']['8080']
    started = time.monotonic()
    entry = {'t': round(t, 2), 'ok': False, 'latency_s': None, 'status': None, 'error': None}
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
            entry['status'] = response.status
    except urllib.error.HTTPError as exc:
        entry['status'] = exc.code
    except (OSError, ValueError) as exc:
        entry['error'] = ('timeout' if isinstance(exc, (socket.timeout, TimeoutError)) or 'timed out' in str(exc)
                          else str(exc)[:160])
    entry['ok'] = entry['status'] == 200
    entry['latency_s'] = round(min(time.monotonic() - started, PROBE_TIMEOUT), 3)
    with lock:
        results.append(entry)


# ---------------------------------------------------------------- reading the guest's output

def parse_samples(text, start_uptime):
    samples = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 5:
            continue
        try:
            up, total, avail, swap_total, swap_free = float(fields[0]), *(int(f) for f in fields[1:])
        except ValueError:
            continue
        samples.append({'t': round(up - start_uptime, 2), 'mem_total_kb': total, 'mem_available_kb': avail,
                        'swap_total_kb': swap_total, 'swap_free_kb': swap_free})
    return samples


def parse_kills(journal_lines, start_epoch, parser=None):
    """Kills (kernel OOM killer and earlyoom, one per pid, the first) and page allocation failures, from the parser."""
    parser = parser or kernel_log()
    events = parser.parse_events(journal_lines)
    kills, seen = [], set()
    rows = [(e.get('epoch'), 'kernel', e.get('victim_comm'), e.get('victim_pid')) for e in events['oom_kills']]
    rows += [(e.get('epoch'), 'earlyoom', e.get('comm'), e.get('pid')) for e in events['earlyoom_kills']]
    for epoch, by, comm, pid in sorted(rows, key=lambda row: (row[0] is None, row[0] or 0)):
        if pid in seen:
            continue
        seen.add(pid)
        kills.append({'t': round(epoch - start_epoch, 2) if epoch is not None else None, 'by': by, 'comm': comm,
                      'pid': pid})
    return kills, len(events['page_alloc_failures']), events['page_alloc_failures']


def _pids(text):
    names = list(ENTRY_SERVICES)
    values = text.split()
    return {name: (int(values[i]) if i < len(values) and values[i].isdigit() and values[i] != '0' else None)
            for i, name in enumerate(names)}


def read_collect(text, start, parser=None):
    head, unused, rest = text.partition('--- samples\n')
    samples_text, unused, journal = rest.partition('--- journal\n')
    after, active, penalties, boot_id = {}, {}, None, None
    for line in head.splitlines():
        if line.startswith('pids '):
            after = _pids(line[5:])
        elif line.startswith('boot_id '):
            boot_id = line.split()[1] if len(line.split()) > 1 else None
        elif line.startswith('penalty_drops '):
            penalties = int(line.split()[1]) if line.split()[1:] and line.split()[1].isdigit() else None
        elif line.startswith('active '):
            parts = line.split()
            active[parts[1]] = parts[2] if len(parts) > 2 else 'unknown'
    kills, failures, failure_events = parse_kills(journal.splitlines(), start['epoch'], parser)
    return {'samples': parse_samples(samples_text, start['uptime']), 'pids_after': after, 'active_after': active,
            'kills': kills, 'page_alloc_failures': failures, 'journal': journal.splitlines(),
            'sshd_penalty_drops': penalties,
            # A guest that rebooted during the storm (under TCG a kernel panic now and then; labvm starts a fresh
            # qemu) leaves a round that measured nothing of the storm's end: callers drop or rerun it.
            'guest_rebooted': bool(boot_id and start.get('boot_id') and boot_id != start['boot_id']),
            'page_alloc_failure_events': [{k: e.get(k) for k in ('comm', 'order', 'mode', 'network_rx', 'time')}
                                          for e in failure_events]}


# ---------------------------------------------------------------- one storm

def log(message):
    print('[storm %s] %s' % (datetime.datetime.now().strftime('%H:%M:%S'), message), flush=True)


def run_storm(info, seed=1, duration=180.0, min_ttl_ms=None, side='', round_no=1, streams=32, step_mib=10,
              every=0.2, bulk_rate=1024 * 1024, small_rate=200, swap_off=False):
    """Run one storm on the VM described by ``info`` (tools/labvm info); return the round's result dict."""
    log('%s round %d: starting stand-ins, sampler%s' % (side or 'storm', round_no,
                                                        ', min_ttl_ms=%s' % min_ttl_ms if min_ttl_ms is not None else ''))
    start = json.loads(guest(info, start_script(seed, min_ttl_ms, step_mib, every, swap_off)).strip().splitlines()[-1])
    t0 = time.monotonic()
    stop = multiprocessing.Event()
    sent = multiprocessing.Value('Q', 0)
    traffic = multiprocessing.Process(target=_traffic, args=(info['forwards']['8443'], streams, stop, sent, bulk_rate,
                                                             small_rate), daemon=True)
    traffic.start()
    results = {'ssh': [], 'http': []}
    lock = threading.Lock()
    done = threading.Event()

    def prober(kind, func):
        # One probe of a kind in flight at a time, started on the next whole second: a probe that takes 5 s is
        # followed by the next one, not by five more piling onto a starved guest (its own load would keep it starved).
        while not done.is_set():
            func(info, t0, results[kind], lock)
            done.wait(max(0.0, math.ceil(time.monotonic() - t0 + 0.001) - (time.monotonic() - t0)))

    probes = [threading.Thread(target=prober, args=(kind, func), daemon=True)
              for kind, func in (('ssh', probe_ssh), ('http', probe_http))]
    for thread in probes:
        thread.start()
    gone_at, next_note = None, 30
    log('hog started (pid %s); %d inbound streams; probing SSH via :443 and HTTP via :8080 once a second each '
        '(one in flight per kind), up to %ds' % (start['hog'], streams, duration))
    while True:
        now = time.monotonic() - t0
        with lock:
            gone = [p['t'] for p in results['ssh'] if p.get('hog') == 'gone']
            answered = sum(1 for p in results['ssh'] if p['ok'])
            finished = len(results['ssh'])
        if gone and gone_at is None:
            gone_at = min(gone)
            log('the hog is gone (seen at %.0f s); %d s more' % (gone_at, TAIL_AFTER_HOG))
        if now >= duration or (gone_at is not None and now >= gone_at + TAIL_AFTER_HOG):
            break
        if now >= next_note:
            log('%3d s: SSH answered %d of %d probes' % (next_note, answered, finished))
            next_note += 30
        time.sleep(0.25)
    done.set()
    end = time.monotonic() - t0
    for thread in probes:
        thread.join(timeout=PROBE_TIMEOUT + 2)
    stop.set()
    traffic.join(timeout=10)
    if traffic.is_alive():
        traffic.terminate()
    log('storm over after %.0f s; probing SSH via :443 until it answers (at most %d tries)' % (end, AFTER_TRIES))
    after = probe_after(info, t0)
    log('SSH via :443 %s after %d probe(s); reading the samples and the kernel log'
        % ('answered' if after['ok'] else 'did NOT answer', after['tries']))
    collected = read_collect(guest(info, collect_script(float(start['epoch']) - 1), timeout=600), start)
    ttl = start.get('ttl')
    result = {
        'side': side, 'round': round_no, 'seed': seed, 'duration_s': round(end, 1),
        'min_ttl_ms': int(ttl) if str(ttl).isdigit() else (0 if ttl == 'none' else None),
        'min_ttl_note': 'the kernel has no /sys/kernel/mm/lru_gen/min_ttl_ms: not set' if ttl == 'missing' else None,
        'probes': {kind: sorted(values, key=lambda p: p['t']) for kind, values in results.items()},
        'threshold': {'mem_percent': 10, 'swap_percent': 20},
        'ssh_after': after,
        'swap_off': bool(swap_off), 'pids_before': _pids(start['pids']), 'hog_pid': start['hog'], 'hog_gone_t': gone_at,
        'traffic': {'streams': streams, 'bytes_sent': sent.value, 'bulk_bytes_per_s': bulk_rate,
                    'small_packets_per_s': small_rate},
        'machine': machine(), 'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
    }
    result.update(collected)
    return result


def machine():
    cores = os.cpu_count()
    try:
        with open('/proc/cpuinfo') as handle:
            model = next((line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')), '?')
    except OSError:
        model = '?'
    return '%s cores (%s), guest 512 MB under qemu TCG' % (cores, model)


def brief(result):
    ssh, http = result['probes']['ssh'], result['probes']['http']
    first = result['kills'][0] if result['kills'] else None
    return ('%s round %s: SSH %d/%d, HTTP %d/%d, first kill %s, page allocation failures %d, PIDs kept %s' % (
        result['side'] or 'storm', result['round'], sum(p['ok'] for p in ssh), len(ssh), sum(p['ok'] for p in http),
        len(http), '%s by %s at %.1f s' % (first['comm'], first['by'], first['t']) if first and first['t'] is not None
        else 'none', result['page_alloc_failures'],
        ', '.join('%s %s' % (k, 'yes' if result['pids_after'].get(k) == v and v else 'NO')
                  for k, v in result['pids_before'].items())))


def main(argv=None):
    parser = argparse.ArgumentParser(prog='tools/storm.py', description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help='one storm on a running lab VM')
    run.add_argument('--name', default='lab', help='tools/labvm instance (default lab)')
    run.add_argument('--seed', type=int, default=1)
    run.add_argument('--duration', type=float, default=180.0, help='upper bound in seconds (default 180)')
    run.add_argument('--min-ttl-ms', type=int, help='set /sys/kernel/mm/lru_gen/min_ttl_ms for the storm')
    run.add_argument('--side', default='')
    run.add_argument('--round', type=int, default=1)
    run.add_argument('--streams', type=int, default=32, help='inbound TCP streams (half bulk, half small packets)')
    run.add_argument('--swap-off', action='store_true',
                     help='swap off for the storm (a short storm: memory runs out in seconds; swapon -a after)')
    run.add_argument('--json', help='write the result here')
    args = parser.parse_args(argv)
    info = vm_info(args.name)
    result = run_storm(info, seed=args.seed, duration=args.duration, min_ttl_ms=args.min_ttl_ms, side=args.side,
                       round_no=args.round, streams=args.streams, swap_off=args.swap_off)
    if args.json:
        with open(args.json + '.tmp', 'w') as handle:
            json.dump(result, handle, indent=1)
        os.replace(args.json + '.tmp', args.json)
    log(brief(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
