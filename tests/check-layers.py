#!/usr/bin/env python3
"""Check the library's layering from its object files.

lib/ is in folders by layer: core, chain, hop, svc, session. A file may
use (call, or read data of) only files of its own layer or of those
before it, and no two files may use each other in a circle, directly or
through others. Which file uses which is read from the objects of the
internal static library with nm: a symbol one object needs and another
defines. Prints each violation and exits 1 when there is any.

    check-layers.py BUILD_DIR
"""
import collections
import glob
import os
import subprocess
import sys

ORDER = ["core", "chain", "hop", "svc", "session"]


def read_objects(objdir):
    defs, needs = {}, collections.defaultdict(set)
    objs = sorted(glob.glob(os.path.join(objdir, "*.o")))
    for o in objs:
        f = os.path.basename(o)[:-2]
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBR":
                defs[p[2]] = f
            elif len(p) == 2 and p[0] == "U":
                needs[f].add(p[1])
    return objs, defs, needs


def circles(graph):
    """Strongly connected groups of more than one file (Tarjan)."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(100000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    objs, defs, needs = read_objects(os.path.join(build, "lib", "libmitogen-internal.a.p"))
    if not objs:
        print("check-layers: no objects under %s" % build)
        return 1
    bad = 0
    graph = collections.defaultdict(set)
    for f in sorted(needs):
        layer = f.split("_")[0]
        if layer not in ORDER:
            print("check-layers: %s is in no layer" % f)
            bad += 1
            continue
        for sym in sorted(needs[f]):
            g = defs.get(sym)
            if g is None or g == f:
                continue
            graph[f].add(g)
            if ORDER.index(g.split("_")[0]) > ORDER.index(layer):
                print("layer: %s uses %s (%s) of a later layer" % (f, sym, g))
                bad += 1
    for group in circles(graph):
        print("circle: " + " ".join(group))
        bad += 1
    print("check-layers: %d objects, %d problems" % (len(objs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
