# SPDX-License-Identifier: GPL-3.0-or-later
"""Disk filler for the VM drill "disk full while the swap file is created".

filler.py WATCHED FILLER [TIMEOUT]
Waits until WATCHED exists (the module has passed its free-space check and started the file), then
writes zeros to FILLER until the filesystem is full, so the module's own write runs out of space
half-way. Prints how many MiB it wrote.
"""
import errno
import os
import sys
import time


def main():
    watched, filler = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 300)
    while not os.path.exists(watched):
        if time.monotonic() > deadline:
            sys.exit('%s never appeared' % watched)
        time.sleep(0.001)
    chunk = bytes(1024 * 1024)
    written = 0
    with open(filler, 'wb', buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
                written += 1
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    print('filler wrote %d MiB before the filesystem was full' % written)


if __name__ == '__main__':
    main()
