#!/usr/bin/env python3
"""wan-trace.py LOG HOST PORT RTT_MS [MBIT] -- an ssh ProxyCommand like
../shared/bench/wan-relay.py (each byte held RTT/2 each way, each way
optionally capped at MBIT Mbit/s) that also appends one line per chunk
it reads to LOG:

    SECONDS_SINCE_START up|down BYTES

'up' is client to server; a first line "0 start EPOCH" gives the start
in wall-clock seconds. Read by wan-timeline.py, which turns the log
into a list of one-way trips (what waited for what)."""
import os
import socket
import sys
import threading
import time
import queue

T0 = time.monotonic()


def pump(src_read, dst_write, dst_eof, delay, bps, name, log, lock):
    """Copy src to dst, each chunk delivered delay seconds after it was
    read and no faster than bps (0: no cap)."""
    q = queue.Queue()

    def deliver():
        free = 0.0
        while True:
            t, data = q.get()
            if data is None:
                dst_eof()
                return
            now = time.monotonic()
            due = t + delay
            if bps:
                start = max(now, free)
                free = start + len(data) / bps
                due = max(due, free)
            if due > now:
                time.sleep(due - now)
            try:
                dst_write(data)
            except OSError:
                return

    th = threading.Thread(target=deliver, daemon=True)
    th.start()
    while True:
        try:
            data = src_read()
        except OSError:
            data = b""
        now = time.monotonic()
        with lock:
            log.write("%.6f %s %d\n" % (now - T0, name, len(data)))
            log.flush()
        q.put((now, data or None))
        if not data:
            break
    th.join()


def main():
    logpath, host, port, rtt = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    mbit = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    delay = rtt / 2000.0
    bps = mbit * 1e6 / 8
    log = open(logpath, "a")
    log.write("%.6f start %.6f\n" % (0.0, time.time() - (time.monotonic() - T0)))
    lock = threading.Lock()
    time.sleep(2 * delay)  # the TCP handshake
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write_all(fd):
        def w(data):
            mv = memoryview(data)
            while mv:
                mv = mv[os.write(fd, mv):]
        return w

    def down_eof():
        os.close(1)

    up = threading.Thread(target=pump, daemon=True, args=(
        lambda: os.read(0, 65536), lambda d: s.sendall(d),
        lambda: s.shutdown(socket.SHUT_WR), delay, bps, "up", log, lock))
    up.start()
    pump(lambda: s.recv(65536), write_all(1), down_eof, delay, bps, "down", log, lock)
    with lock:
        log.write("%.6f end 0\n" % (time.monotonic() - T0))


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass
