#!/usr/bin/env python3
"""wan-timeline.py RTT_MS LOG [END_EPOCH] -- one-way trips in a
wan-trace.py log; END_EPOCH (date +%s.%N right after the client ended)
is shown on the same time line.

Chunks read in one direction are one flight until a chunk comes the
other way; with a relay delay much longer than the machine's own
latencies, every flight after the first is an answer to the one before
it, so flights / 2 is the number of round trips the session needed.
Prints each flight (start, direction, chunks, bytes) and the count."""
import sys


def main():
    rtt, path = float(sys.argv[1]), sys.argv[2]
    end = float(sys.argv[3]) if len(sys.argv) > 3 else None
    start = None
    rows = []
    for line in open(path):
        t, d, n = line.split()
        if d == "start":
            start = float(n)
        elif d in ("up", "down") and int(n) > 0:
            rows.append((float(t), d, int(n)))
        elif d in ("up", "down"):
            rows.append((float(t), d + "-eof", 0))
    flights = []
    for t, d, n in rows:
        base = d.split("-")[0]
        if flights and flights[-1][1] == base and t - flights[-1][4] < rtt / 2000.0:
            f = flights[-1]
            f[2] += 1
            f[3] += n
            f[4] = t
            f[5].append(d if n == 0 else "%d" % n)
        else:
            flights.append([t, base, 1, n, t, [d if n == 0 else "%d" % n]])
    t0 = flights[0][0] if flights else 0
    for f in flights:
        print("%8.1f ms %-4s %3d chunks %7d B  %s" % (
            (f[0] - t0) * 1000, f[1], f[2], f[3], " ".join(f[5][:12])))
    if end is not None and start is not None and flights:
        e = end - start
        print("%8.1f ms the client has ended" % ((e - t0) * 1000))
        # A down flight reaches the client RTT/2 after the relay read it.
        before = [f for f in flights if f[0] + (rtt / 2000.0 if f[1] == "down" else 0) <= e]
        print("one-way trips before the client ended: %d" % len(before))
    print("flights: %d (%.1f round trips)" % (len(flights), len(flights) / 2))


if __name__ == "__main__":
    main()
