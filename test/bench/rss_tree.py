#!/usr/bin/env python3
"""rss_tree.py PID OUT — peak resident memory of PID's descendants (not PID), summed.

PID is the /usr/bin/time that runs the tool, so the figure is the tool's processes'.

Samples every 50 ms (walking /proc/PID/task/*/children, so only the tree is read, not all of
/proc) until PID is gone, then writes "PEAK_SUM_KIB PEAK_MAX_PROCS" to OUT. A child that lives
less than one sample period is missed: this is a lower bound, beside /usr/bin/time's own peak
of the largest single process.
"""
import os
import sys
import time


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def main():
    root, out = int(sys.argv[1]), sys.argv[2]
    peak = nprocs = 0
    while os.path.exists(f"/proc/{root}"):
        todo, total, n = children(root), 0, 0
        while todo:
            p = todo.pop()
            total += rss_kib(p)
            n += 1
            todo += children(p)
        peak = max(peak, total)
        nprocs = max(nprocs, n)
        time.sleep(0.05)
    with open(out, "w") as f:
        f.write(f"{peak} {nprocs}\n")


if __name__ == "__main__":
    main()
