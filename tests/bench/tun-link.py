#!/usr/bin/env python3
"""A WAN link between this network namespace and another, for benchmarks.

    tun-link.py NETNS IF_HERE IF_THERE RTT_MS MBIT

Makes a TUN device IF_HERE in the current namespace and IF_THERE in
NETNS (/run/netns/NETNS), prints "ready", then moves every IP packet from
one to the other, held RTT_MS/2 and sent no faster than MBIT Mbit/s in
each direction, order kept. The caller gives both devices addresses.

Unlike ../shared/bench/wan-relay.py, which is an ssh ProxyCommand and so
relays bytes between two loopback connections, both ends here are the
kernel's own TCP: Nagle's algorithm, delayed and quick ACKs, slow start
and TCP_NODELAY act across the link as they would across a real one.
This kernel has no netem (nor fq, for a BPF delay), so the delay is made
here. Ends on SIGTERM.
"""
import collections
import ctypes
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
QUEUE_MAX = 2000  # packets waiting in one direction; more are dropped


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def enter(netns):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + netns, os.O_RDONLY | os.O_CLOEXEC)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(%s): %s" % (netns, os.strerror(err)))
    os.close(fd)


class Direction:
    """Packets read from src, written to dst once due."""

    def __init__(self, src, dst, delay, rate):
        self.src, self.dst = src, dst
        self.delay, self.rate = delay, rate
        self.free_at = 0.0  # when the link's sending side is idle again
        self.queue = collections.deque()  # (due, packet), due ascending

    def take(self, now):
        while True:
            try:
                p = os.read(self.src, 65536)
            except BlockingIOError:
                return
            if len(self.queue) >= QUEUE_MAX:
                continue
            sent = max(now, self.free_at) + len(p) * 8 / self.rate
            self.free_at = sent
            self.queue.append((sent + self.delay, p))

    def give(self, now):
        while self.queue and self.queue[0][0] <= now:
            try:
                os.write(self.dst, self.queue[0][1])
            except BlockingIOError:
                return
            except OSError:
                pass  # the device went down: the packet is lost, as on a link
            self.queue.popleft()

    def next_due(self):
        return self.queue[0][0] if self.queue else None


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: tun-link.py NETNS IF_HERE IF_THERE RTT_MS MBIT")
    netns, here, there = sys.argv[1:4]
    delay = float(sys.argv[4]) / 2000.0
    rate = float(sys.argv[5]) * 1e6
    a = tun(here)
    enter(netns)
    b = tun(there)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    dirs = {a: Direction(a, b, delay, rate), b: Direction(b, a, delay, rate)}
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        dues = [d.next_due() for d in dirs.values() if d.next_due() is not None]
        timeout = max(0.0, min(dues) - now) if dues else None
        r, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for fd in r:
            dirs[fd].take(now)
        for d in dirs.values():
            d.give(now)


if __name__ == "__main__":
    main()
