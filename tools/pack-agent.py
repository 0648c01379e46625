#!/usr/bin/env python3
"""Make the self-inflating agent: pack-agent.py STUB AGENT OUTPUT.

OUTPUT is STUB (cmd/agent-stub/stub.c) without its section headers,
followed by AGENT with its branch operands made absolute (unlzma.h) and
compressed as raw LZMA (lc=3, lp=0, pb=0); the stub's `mg_packed` record
says where the payload lies, how long the agent is and its FNV-1a.
Needs only Python's own lzma module at build time; nothing on the hops.
"""
import lzma
import os
import struct
import sys

MAGIC = b"MGPACK1\0"


# The rel32 operands of CALL (E8), JMP (E9) and Jcc (0F 80..8F) within
# +-2^25 are made absolute, modulo 2^26 and kept in that window, so the
# decoder can tell which ones were (unlzma.h). Others are left alone.
WINDOW = 1 << 26


def filter_calls(data):
    buf = bytearray(data)
    i, n, half = 0, len(buf), WINDOW // 2
    while i + 5 <= n:
        if buf[i] in (0xE8, 0xE9):
            at = i + 1
        elif buf[i] == 0x0F and i + 6 <= n and 0x80 <= buf[i + 1] <= 0x8F:
            at = i + 2
        else:
            i += 1
            continue
        rel = struct.unpack_from("<i", buf, at)[0]
        if -half <= rel < half:
            struct.pack_into("<i", buf, at, (rel + half + at + 4) % WINDOW - half)
        i = at + 4
    return bytes(buf)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def trim_elf(stub):
    """The stub up to the end of its last loaded segment: section headers
    are not needed to run it."""
    if stub[:4] != b"\x7fELF" or stub[4] != 2 or stub[5] != 1:
        sys.exit("pack-agent.py: the stub is not a little-endian ELF64 file")
    phoff, = struct.unpack_from("<Q", stub, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", stub, 0x36)
    end = phoff + phentsize * phnum
    for k in range(phnum):
        p_type, _flags, p_offset = struct.unpack_from("<IIQ", stub, phoff + k * phentsize)
        p_filesz, = struct.unpack_from("<Q", stub, phoff + k * phentsize + 0x20)
        if p_type == 1:
            end = max(end, p_offset + p_filesz)
    out = bytearray(stub[:end])
    struct.pack_into("<Q", out, 0x28, 0)            # e_shoff
    struct.pack_into("<HHH", out, 0x3A, 0, 0, 0)    # e_shentsize, e_shnum, e_shstrndx
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: pack-agent.py STUB AGENT OUTPUT")
    stub_path, agent_path, out_path = sys.argv[1:]
    with open(stub_path, "rb") as f:
        stub = trim_elf(f.read())
    with open(agent_path, "rb") as f:
        agent = f.read()
    at = stub.find(MAGIC)
    if at < 0 or stub.find(MAGIC, at + 1) >= 0:
        sys.exit("pack-agent.py: the stub's mg_packed record is missing or not unique")
    filters = [{"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME,
                "lc": 3, "lp": 0, "pb": 0}]
    payload = lzma.compress(filter_calls(agent), format=lzma.FORMAT_RAW, filters=filters)
    struct.pack_into("<IIII", stub, at + len(MAGIC), len(stub), len(payload),
                     len(agent), fnv1a(agent))
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(stub)
        f.write(payload)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
