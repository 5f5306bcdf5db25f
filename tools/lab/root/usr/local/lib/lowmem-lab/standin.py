# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in process of the lab's entry shape (tools/lab/entry_shape.yml) and the storm's hog.

standin.py NAME [--hold MIB] [--sink PORT] [--grow MIB --every SECONDS] [--seed N] [--ready FILE]

The process is named NAME (/proc/PID/comm, what earlyoom matches), holds MIB MiB of incompressible bytes (a seeded
random MiB, copied: zswap compresses page by page, and every page of the MiB differs), optionally accepts TCP
connections on PORT and discards what they send (a proxy's inbound traffic: the kernel's receive path at work), and
optionally grows by about MIB MiB every SECONDS (seeded steps of 0.5x to 1.5x) until something kills it.
A name with a profile (the runbook box's low-priority containers) gets its options first; options given win.
"""
import argparse
import ctypes
import os
import random
import selectors
import socket
import sys
import threading
import time

PR_SET_NAME = 15
MIB = 1024 * 1024
PROFILES = {
    'hysteria': ['--hold', '40', '--sink', '8443'],
    'tuic-server': ['--hold', '30'],
    'filebrowser': ['--hold', '30'],
}


def sink(port):
    """Accept on PORT and read everything sent, into one reused buffer."""
    listener = socket.create_server(('0.0.0.0', port), backlog=128, reuse_port=True)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffer = bytearray(256 * 1024)
    while True:
        for key, unused in selector.select():
            if key.fileobj is listener:
                try:
                    conn = listener.accept()[0]
                except OSError:
                    continue
                conn.setblocking(False)
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                got = key.fileobj.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError:
                got = 0
            if not got:
                selector.unregister(key.fileobj)
                key.fileobj.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('name')
    parser.add_argument('--hold', type=int, default=0)
    parser.add_argument('--sink', type=int)
    parser.add_argument('--grow', type=int, default=0)
    parser.add_argument('--every', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--ready')
    argv = sys.argv[1:]
    if argv and argv[0] in PROFILES:  # the profile first: options given after it win
        argv = argv[:1] + PROFILES[argv[0]] + argv[1:]
    args = parser.parse_args(argv)
    ctypes.CDLL(None).prctl(PR_SET_NAME, args.name.encode()[:15], 0, 0, 0)
    rng = random.Random(args.seed)
    block = rng.randbytes(MIB)
    held = [bytearray(block) for unused in range(args.hold)]
    if args.sink:
        threading.Thread(target=sink, args=(args.sink,), daemon=True).start()
    if args.ready:
        with open(args.ready + '.tmp', 'w') as handle:
            handle.write('%d\n' % os.getpid())
        os.rename(args.ready + '.tmp', args.ready)
    while args.grow:
        step = rng.randint(max(1, args.grow // 2), args.grow * 3 // 2)
        held.extend(bytearray(block) for unused in range(step))
        time.sleep(args.every)
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
