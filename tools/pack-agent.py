#!/usr/bin/env python3
"""Make the self-inflating agent: pack-agent.py [--deflate] STUB AGENT OUTPUT RAW.

OUTPUT is STUB (cmd/agent-stub/stub.c) without its section headers,
followed by AGENT, likewise trimmed, split in two streams (code, and
the operands of branches, RIP-relative accesses and immediates:
cmd/agent-stub/unlzma.h) and compressed as raw LZMA (raw deflate with
--deflate, for a stub built to inflate it), masked against shell
escapes; the stub's `mg_packed` record says where the payload lies, how
long the agent is and its FNV-1a. RAW is the trimmed AGENT: what OUTPUT
inflates to, byte for byte.
Needs only Python's own lzma and zlib modules at build time; nothing on
the hops.
"""
import lzma
import os
import struct
import sys
import zlib

MAGIC = b"MGPACK2\0"


# The agent's x86 code is split in two streams (cmd/agent-stub/unlzma.h
# says exactly how): the operands below in one, grouped by kind,
# big-endian, position-relative ones made absolute; everything else in
# the other. Calls to one function then read alike, and neither stream's
# statistics spoil the other's: 5% smaller than LZMA on the agent alone.
BRANCH, RIP, JCC, IMM = range(4)

# One-byte opcodes whose ModRM byte, when it is 00 reg 101, is followed by
# a RIP-relative disp32: cmp, mov, lea, and mov/cmp with an immediate
# (measured: each one here saves bytes on the agent, the others did not).
RIP_OPS = (0x39, 0x3B, 0x80, 0x83, 0x89, 0x8B, 0x8D, 0xC6, 0xC7)

# LZMA properties (lc, lp, pb) of each stream and the encoder's settings,
# measured: code wants the previous byte's high bits; operands their place
# in the 4-byte word.
CODE_PROPS = (3, 0, 0)
CODE_ENC = {"mf": lzma.MF_BT2, "nice_len": 96}
OPS_PROPS = (1, 2, 2)
OPS_ENC = {"mf": lzma.MF_BT4, "nice_len": 96}


def operand(buf, i, n):
    """(kind, where the operand lies) of an instruction at i, or None."""
    if i + 5 > n:
        return None
    b = buf[i]
    if b in (0xE8, 0xE9):                       # CALL, JMP rel32
        return BRANCH, i + 1
    if b == 0x0F:
        if i + 6 > n:
            return None
        if 0x80 <= buf[i + 1] <= 0x8F:          # Jcc rel32
            return JCC, i + 2
        if buf[i + 1] == 0xB6 and i + 7 <= n and buf[i + 2] & 0xC7 == 0x05:
            return RIP, i + 3                   # MOVZX r, byte [rip+disp32]
        return None
    if b in RIP_OPS:
        return (RIP, i + 2) if i + 6 <= n and buf[i + 1] & 0xC7 == 0x05 else None
    if 0xB8 <= b <= 0xBF:                       # mov r32, imm32
        return IMM, i + 1
    return None


def split(data):
    """(main stream, operand counts by kind, operand stream)."""
    code, ops = bytearray(), [bytearray() for _ in range(4)]
    i, n = 0, len(data)
    while i < n:
        found = operand(data, i, n)
        if found is None:
            code.append(data[i])
            i += 1
            continue
        kind, at = found
        code += data[i:at]
        v = int.from_bytes(data[at:at + 4], "little")
        if kind != IMM:
            v = (v + at + 4) & 0xFFFFFFFF
        ops[kind] += v.to_bytes(4, "big")
        i = at + 4
    return bytes(code), [len(o) // 4 for o in ops], b"".join(bytes(o) for o in ops)


def lzma_raw(data, props, enc):
    lc, lp, pb = props
    filters = [dict({"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME,
                     "lc": lc, "lp": lp, "pb": pb}, **enc)]
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)


def props_byte(props):
    lc, lp, pb = props
    return (pb * 5 + lp) * 9 + lc


# The exec-only agent's streams are raw deflate instead (--deflate): 10%
# larger, but the stub inflates them in 0.3 ms against 2.8 for LZMA, at
# the start of every cold command. zlib's strategies, the smallest kept.
PROPS_DEFLATE = 0xFF


def deflate_raw(data):
    best = None
    for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED):
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, strategy)
        out = c.compress(data) + c.flush()
        if best is None or len(out) < len(best):
            best = out
    return best


def compress(raw, deflate=False):
    """The payload for RAW (unlzma.h)."""
    code, counts, ops = split(raw)
    if deflate:
        first, second = deflate_raw(code), deflate_raw(ops)
        props = (PROPS_DEFLATE, PROPS_DEFLATE)
    else:
        first, second = lzma_raw(code, CODE_PROPS, CODE_ENC), lzma_raw(ops, OPS_PROPS, OPS_ENC)
        props = (props_byte(CODE_PROPS), props_byte(OPS_PROPS))
    head = struct.pack("<BBHII4I", props[0], props[1], 0, len(code), len(first), *counts)
    return head + first + second


# The bytes a login shell or printf %b would want escaped when the image
# rides in ssh's command (lib/hop/boot.c, esc_len: 4 or 5 bytes each, 6%
# more in all on compressed data): the payload avoids them. Each block of
# MASK_BLOCK bytes follows a key byte and is XORed with it, the key being
# one that leaves none of them in the block, else the one whose escapes
# cost least: 0.4% more bytes, 5 KB fewer in ssh's command. With five
# bytes to avoid, 224 is where a key byte more per block and an escape
# less balance: on the whole agent 49 bytes more than 256 but 26 bytes
# of escapes rather than 132 (and 43 fewer in all than 208 with the
# fewest escapes, not the cheapest; the exec-only agent 18 fewer). The
# stub's MG_MASK_BLOCK (unlzma.h) must match.
MASK_BLOCK = 224
AWKWARD = (0x00, 0x0A, 0x21, 0x27, 0x5C)
NUL_OCTAL = [bytes([0, d]) for d in b"01234567"]


def escape_cost(x):
    """What escaping X adds (esc_len): a NUL 1 (4 before an octal digit),
    a quote 3, a newline, '!' or backslash 4."""
    return (x.count(0) + 3 * sum(x.count(s) for s in NUL_OCTAL) + 3 * x.count(0x27) +
            4 * (x.count(0x0A) + x.count(0x21) + x.count(0x5C)))


def mask(data):
    out = bytearray()
    for i in range(0, len(data), MASK_BLOCK):
        block, best = data[i:i + MASK_BLOCK], None
        for k in range(256):
            if k in AWKWARD:
                continue
            x = block.translate(bytes(b ^ k for b in range(256)))
            n = escape_cost(x)
            if best is None or n < best[0]:
                best = (n, k, x)
            if n == 0:
                break
        out.append(best[1])
        out += best[2]
    return bytes(out)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def trim_elf(elf, what):
    """ELF up to the end of its last loaded segment: section headers (and
    sections that are not loaded) are not needed to run it."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit("pack-agent.py: the %s is not a little-endian ELF64 file" % what)
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    end = phoff + phentsize * phnum
    for k in range(phnum):
        p_type, _flags, p_offset = struct.unpack_from("<IIQ", elf, phoff + k * phentsize)
        p_filesz, = struct.unpack_from("<Q", elf, phoff + k * phentsize + 0x20)
        if p_type == PT_LOAD:
            end = max(end, p_offset + p_filesz)
    out = bytearray(elf[:end])
    struct.pack_into("<Q", out, 0x28, 0)            # e_shoff
    struct.pack_into("<HHH", out, 0x3A, 0, 0, 0)    # e_shentsize, e_shnum, e_shstrndx
    return out


# Header fields of the stub that the kernel never reads: e_ident's padding
# after the guard, the physical address of each PT_LOAD and all but the
# flags of PT_GNU_STACK. They are mostly NUL bytes, each a byte more in
# ssh's command (lib/hop/boot.c esc_len): filled with FILL instead.
PT_LOAD, PT_GNU_STACK, FILL = 1, 0x6474E551, 0xFF


def fill_ignored(elf):
    elf[10:16] = bytes([FILL]) * 6
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for k in range(phnum):
        at = phoff + k * phentsize
        p_type, = struct.unpack_from("<I", elf, at)
        if p_type == PT_LOAD:
            elf[at + 0x18:at + 0x20] = bytes([FILL]) * 8
        elif p_type == PT_GNU_STACK:
            elf[at + 8:at + 0x38] = bytes([FILL]) * 0x30


def write_exe(path, *parts):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for p in parts:
            f.write(p)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def main():
    args = sys.argv[1:]
    deflate = args[:1] == ["--deflate"]
    if deflate:
        args = args[1:]
    if len(args) != 4:
        sys.exit("usage: pack-agent.py [--deflate] STUB AGENT OUTPUT RAW")
    stub_path, agent_path, out_path, raw_path = args
    with open(stub_path, "rb") as f:
        stub = trim_elf(f.read(), "stub")
    # The guard (lib/hop/boot.h, MG_ELF_GUARD): the first byte of
    # e_ident's padding, which the kernel ignores, makes the file's first
    # line a syntax error for a shell that runs a cut image as a script.
    stub[9] = ord(")")
    fill_ignored(stub)
    with open(agent_path, "rb") as f:
        agent = trim_elf(f.read(), "agent")
    # The same guard in the agent itself: a hop may get it unpacked
    # (lib/hop/conn-boot.c, mg__conn_take_unpacked).
    agent[9] = ord(")")
    agent = bytes(agent)
    at = stub.find(MAGIC)
    if at < 0 or stub.find(MAGIC, at + 1) >= 0:
        sys.exit("pack-agent.py: the stub's mg_packed record is missing or not unique")
    payload = mask(compress(agent, deflate))
    struct.pack_into("<IIII", stub, at + len(MAGIC), len(stub), len(payload),
                     len(agent), fnv1a(agent))
    write_exe(raw_path, agent)
    write_exe(out_path, stub, payload)


if __name__ == "__main__":
    main()
