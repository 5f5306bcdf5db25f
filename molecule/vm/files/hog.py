# SPDX-License-Identifier: GPL-3.0-or-later
"""Memory hog for the VM drills: holds incompressible memory under a chosen process name.

hog.py NAME MIB READY_FILE [STEP_MIB [INTERVAL]]
Allocates MIB MiB of random bytes (0: grow until killed) in STEP_MIB chunks, INTERVAL seconds apart,
writes its PID to READY_FILE once the target is held, then sleeps. Random bytes do not compress, so
zswap cannot hide them: they go to the swap file.
"""
import ctypes
import os
import sys
import time

PR_SET_NAME = 15


def main():
    name, mib, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    step = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    # /proc/PID/comm is what earlyoom matches: name the process like the container it stands in for.
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    held = []
    while mib == 0 or len(held) * step < mib:
        held.append(bytearray(os.urandom(step * 1024 * 1024)))
        if interval:
            time.sleep(interval)
    with open(ready, 'w') as handle:
        handle.write('%d\n' % os.getpid())
    while True:
        time.sleep(60)


if __name__ == '__main__':
    main()
