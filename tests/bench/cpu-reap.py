#!/usr/bin/env python3
"""CPU of a command and of every process it leaves behind.

    cpu-reap.py OUT CMD [ARG...]

Runs CMD as a child subreaper (PR_SET_CHILD_SUBREAPER), so that the
processes it starts and does not wait for (mitogen-run leaves its ssh
processes to end on their own once every result is in) come back to us
when they are orphaned; waits for all of them, then writes to OUT one line
"SELF_MS CHILDREN_MS": the CPU (user + system) of CMD's own process, read
from /proc while it is a zombie, and that of all its descendants (CMD
included), from getrusage(RUSAGE_CHILDREN). Exits with CMD's status.
Python's own start-up is in neither figure.
"""
import ctypes
import os
import resource
import sys

PR_SET_CHILD_SUBREAPER = 36


def self_ms(pid):
    """utime + stime of a zombie child (all its threads), in ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def main():
    out, argv = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("cpu-reap: prctl: %s" % os.strerror(ctypes.get_errno()))
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    own = self_ms(pid)
    status = 0
    while True:
        try:
            p, st = os.wait()
        except ChildProcessError:
            break
        if p == pid:
            status = os.waitstatus_to_exitcode(st)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write("%.1f %.1f\n" % (own, (ru.ru_utime + ru.ru_stime) * 1000.0))
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
