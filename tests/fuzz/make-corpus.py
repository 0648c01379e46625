#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into tests/fuzz/corpus/.

Seeds are a handful of realistic inputs per target, in the input format
its fuzz-TARGET.c describes. Run again after changing a format; files
named seed-* are rewritten, others (regressions: crash-*, ...) are kept.
"""
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

MAGIC = 0x4D47
F_DEAD = 1
F_FDS = 8  # MG_F_FDS: refused on a link that takes no descriptors
H_HELLO, H_ADD_ROUTE, H_DEL_ROUTE, H_LOG, H_SHUTDOWN, H_PASSWORD = 100, 101, 102, 103, 104, 105
H_CONNECT, H_EXEC, H_FETCH, H_DYNAMIC = 200, 300, 301, 1000
EXEC_SHELL, EXEC_NO_STDIN, EXEC_IMAGE, EXEC_PTY = 1, 2, 4, 8
EXEC_UMASK, EXEC_ENV_ALL = 0x800, 0x1000


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v & 0xFFFFFFFF)
def u64(v): return struct.pack(">Q", v)


def s(text):
    """str: u32 length, bytes; None is 0xffffffff."""
    if text is None:
        return u32(0xFFFFFFFF)
    b = text.encode() if isinstance(text, str) else text
    return u32(len(b)) + b


def strv(items):
    return u32(len(items)) + b"".join(s(i) for i in items)


def frame(dst, src, handle, payload=b"", flags=0, reply_to=0, auth=None):
    auth = src if auth is None else auth
    return struct.pack(">HHIIIIII", MAGIC, flags, dst, src, auth, handle, reply_to,
                       len(payload)) + payload


def chunk(b):
    return u16(len(b)) + b


def hello(id_=5, parents=(1, 0), name="mitogen:5"):
    return (u32(1) + u32(id_) + u32(len(parents)) + b"".join(u32(p) for p in parents)
            + u32(4 << 20) + u32(2 << 20) + u8(2) + s(name))


def hop(method, spec, user=None, host=None, port=0, text=None, opts=()):
    out = s(method) + s(spec) + s(user) + s(host) + u32(port) + s(text or method + ":" + spec)
    out += u32(len(opts))
    for k, v in opts:
        out += s(k) + s(v)
    return out


def connect(id_, name, h, password=None):
    out = u32(id_) + u32(30000) + s(name) + h
    if password is not None:
        out += s(password)
    return out


def exec_req(flags, argv, cwd=None, env=None, image=None, pty=None, umask=None):
    out = u32(flags) + strv(argv) + u32(1001) + u32(1002) + u32(1003) + s(cwd)
    if env is not None or image is not None or pty is not None or umask is not None:
        out += strv(env or [])
    if image is not None:
        out += u32(image[0]) + u64(image[1]) + u32(image[2])
    if pty is not None:
        out += u32(pty[0]) + u32(pty[1])
    if umask is not None:
        out += u32(umask)
    return out


def seeds():
    t = {}
    # frames: mode, max, piece, bytes
    frames = (frame(1, 0, H_HELLO, hello(), reply_to=1000) + frame(1, 0, H_SHUTDOWN)
              + frame(0, 1, 1000, b"dead", flags=F_DEAD))
    t["frames"] = {
        "seed-frames": u8(0) + u16(0) + u8(0) + frames,
        "seed-raw-boot": u8(1) + u16(0) + u8(1) + b"Last login: today\r\nMITO000\nMITO002\n" + frames,
        "seed-paused-kept": u8(6) + u16(64) + u8(0) + frames,
        "seed-too-big": u8(0) + u16(16) + u8(0) + frame(1, 0, 300, b"x" * 100),
        "seed-bad-magic": u8(0) + u16(0) + u8(0) + b"\x00" * 28,
        "seed-fds-refused": u8(0) + u16(0) + u8(0) + frame(1, 0, H_EXEC, b"abc", flags=F_FDS),
    }
    t["hello"] = {
        "seed-agent": hello(),
        "seed-first-hop": hello(1, (0,), "mitogen:1"),
        "seed-null-name": hello(2, (1, 0), None),
    }

    def rec(who, hsel, dst, src, flags, payload):
        return u8(who) + u8(hsel) + u8(dst) + u8(src) + u8(flags) + chunk(payload)
    # route: who (0 child 2, 1 child 3, 2 parent); handle index 0 ADD, 1 DEL,
    # 2 LOG, 3 CONNECT; id selectors 0-3 are ids 0-3, 4-7 are ids 4-7.
    t["route"] = {
        "seed-connect-then-announce": rec(2, 3, 2, 0, 0, u32(5) + b"rest")
        + rec(0, 0, 1, 2, 0, u32(5) + s("ssh:h/sudo")),
        "seed-unasked-announce": rec(0, 0, 1, 2, 0, u32(6) + s("evil")),
        "seed-sibling-claims": rec(2, 3, 2, 0, 0, u32(5)) + rec(1, 0, 1, 3, 0, u32(5) + s("x"))
        + rec(0, 0, 1, 2, 0, u32(5) + s("y")),
        "seed-del-log": rec(0, 1, 1, 2, 0, u32(2) + s("gone")) + rec(1, 2, 1, 3, 0, u8(2) + s("hello\x1b[2J")),
        "seed-dead": rec(2, 3, 2, 0, 0, u32(7)) + rec(0, 9, 0, 2, 1, b"refused"),
    }
    t["connect"] = {
        "seed-ssh": connect(3, "ssh:h/ssh:web1", hop("ssh", "web1", None, "web1", 22, "ssh:web1:22",
                                                      [("ssh_args", "-o Compression=no"), ("check_host_keys", "accept")])),
        "seed-sudo-pw": connect(4, "ssh:h/sudo:root", hop("sudo", "root", "root", None, 0, "sudo:root"), "hunter2"),
        "seed-docker": connect(5, "local/docker:app", hop("docker", "app", None, "app", 0, "docker:app",
                                                          [("docker_path", "/usr/bin/docker")])),
        "seed-unknown": connect(6, "x", hop("teleport", "", None, None, 0, "teleport")),
    }

    def xrec(kind, reply_to, payload, handle=None):
        out = u8(kind)
        if kind & 1:
            out += u8(handle)
        return out + u16(reply_to) + chunk(payload)
    t["exec"] = {
        "seed-shell": xrec(0, 900, exec_req(EXEC_SHELL | EXEC_NO_STDIN, ["echo hi"])),
        "seed-argv-env": xrec(0, 900, exec_req(0, ["ls", "-l", "/"], "/tmp", ["A=1", "LANG=C"])),
        # A holder's client: its umask, its whole environment.
        "seed-inherit": xrec(0, 900, exec_req(EXEC_SHELL | EXEC_NO_STDIN | EXEC_UMASK | EXEC_ENV_ALL,
                                              ["umask"], "/tmp", ["PATH=/bin", "A=1"], umask=0o27)),
        "seed-image": xrec(0, 900, exec_req(EXEC_IMAGE, ["prog", "x"], None, [], (7, 100, 62)))
        + xrec(1, 0, u64(100) + u32(1200), 1)
        + xrec(1, 0, b"\x7fELF" + b"\x00" * 96, 0),
        "seed-pty": xrec(0, 900, exec_req(EXEC_PTY | EXEC_SHELL, ["top"], None, [], None, (24, 80)))
        + xrec(1, 0, u32(15), 2),
        "seed-dead": xrec(0, 900, exec_req(EXEC_IMAGE, ["p"], None, [], (8, 10, 0))) + xrec(3, 0, b"no such program", 1),
    }
    t["exec-event"] = {
        "seed-started": u8(1) + u32(4242) + u32(1000) + u32(1001) + u32(1002) + u32(1003),
        "seed-exited": u8(2) + u32(0x100),
        "seed-failed": u8(3) + u32(2) + s("ls: not found"),
        "seed-unknown": u8(9) + b"later",
    }

    def frec(kind, payload, handle=None):
        out = u8(kind)
        if kind & 4:
            out += u8(handle)
        return out + chunk(payload)

    def local(slot, id_, size):
        return u8(3) + u8(slot) + u32(id_) + u16(size)
    fetch = lambda id_, size: u32(id_) + u32(5000) + u32(5001) + u64(size)
    t["fetch"] = {
        "seed-served": frec(0, fetch(7, 100)) + frec(4, u32(0), 0),
        "seed-unknown-twice": frec(0, fetch(9, 50)) + frec(1, fetch(9, 50)) + frec(2 | 4 | 8, b"no such program", 0),
        "seed-local": local(0, 9, 20) + local(1, 9, 20) + frec(2 | 4, u64(20) + u32(1300), 1)
        + frec(2 | 4, b"0123456789" * 2, 0) + local(0, 10, 5),
        "seed-wrong-size": frec(0, fetch(7, 99)) + local(2, 7, 100),
    }

    def mrec(who, hsel, ssel, flags, reply_to, payload):
        return u8(who) + u8(hsel) + u8(ssel) + u8(flags) + u16(reply_to) + chunk(payload)
    t["master"] = {
        "seed-password": mrec(0, 0, 1, 0, 1000, u32(3)),
        "seed-announce": mrec(0, 1, 1, 0, 0, u32(3) + s("ssh:h/sudo")) + mrec(1, 2, 2, 0, 0, u32(2)),
        "seed-log-fetch": mrec(0, 3, 1, 0, 0, u8(2) + s("agent up")) + mrec(1, 4, 2, 0, 0, fetch(1, 10)),
    }
    reply = frame(0, 1, H_DYNAMIC, u32(1) + u32(4242))
    t["boot"] = {
        "seed-docker-up": u8(0) + u8(0) + chunk(b"") + b"MITO000\nMITO002\n" + reply,
        "seed-docker-noise": u8(0) + u8(0) + chunk(b"warning: something\n") + b"motd\r\nMITO000\nMITO002\n"
        + frame(0, 1, H_DYNAMIC, u32(2) + u32(1)),
        "seed-sudo-prompt": u8(1) + u8(1) + chunk(b"[sudo] password for root: ") + b"MITO000\nMITO002\n" + reply,
        "seed-sudo-ask": u8(1) + u8(0) + chunk(b"[sudo] password for root: \nSorry, try again.\n") + b"",
        "seed-su-fail": u8(2) + u8(3) + chunk(b"") + b"Password: \r\nsu: Authentication failure\r\n",
        "seed-ssh-hostkey": u8(5) + u8(0) + chunk(b"The authenticity of host 'web1' can't be established.\n"
                                              b"Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
        + b"MITO000\nMITO002\n" + reply,
        "seed-ssh-refused": u8(4) + u8(0) + chunk(b"ssh: connect to host web1 port 22: Connection refused\n"),
    }
    t["chain"] = {
        "seed-many": b"ssh:web[01-03,07]/sudo:root",
        "seed-local": b"local",
        "seed-ssh-opts": b"ssh:deploy@bastion:2222?ssh_args=-v&check_host_keys=accept/ssh:web1",
        "seed-braces": b"ssh:h/docker:{app,db}-[1-2]?docker_path=%2Fusr%2Fbin%2Fdocker",
        "seed-v6": b"ssh:[2001:db8::1]/su:app?password_env=PW",
        "seed-list": b"local,ssh:a,ssh:b/doas:root",
    }
    t["expand"] = {
        "seed-range": b"web[01-10,33]",
        "seed-product": b"h{a,b}-[1-2]x",
        "seed-v6": b"[2001:db8::1]",
        "seed-nested": b"n{x,{y,z}[8-11]}",
    }
    t["config"] = {
        "seed-aliases": b"prod/sudo:root\n[aliases]\nprod = ssh:bastion/ssh:web[1-3]\nweb = prod/sudo\n"
        b"[defaults]\ntimeout = 10\n",
        "seed-cycle": b"a\n[aliases]\na = b\nb = a\n",
        "seed-errors": b"x\n# comment\n[aliases\nx=local\n",
        "seed-suggest": b"y\n[alias]\ny = local\n",
    }

    def prec(text):
        out = b""
        for i in range(0, len(text), 7):
            part = text[i:i + 7]
            out += u8(len(part)) + part
        return out
    t["prompt"] = {
        "seed-sudo": u8(0) + u8(1) + prec(b"[sudo] password for root: ") + prec(b"\nSorry, try again.\n[sudo] password for root: "),
        "seed-su-ask": u8(1) + u8(0) + prec(b"Password: "),
        "seed-su-fail": u8(1) + u8(1) + prec(b"Password: \r\nsu: Authentication failure\r\n"),
        "seed-doas": u8(2) + u8(1) + prec(b"doas (root@h) password: \ndoas: Authentication failed\n"),
        "seed-ssh-hostkey": u8(4) + u8(0) + prec(b"Are you sure you want to continue connecting (yes/no/[fingerprint])? "),
        "seed-ssh-denied": u8(3) + u8(0) + prec(b"root@web1: Permission denied (publickey,password).\n"),
    }

    def jout(i, stream, data):
        return u8(0) + u8(i) + u8(stream) + chunk(data)

    def jdone(i, outcome, code, sig, ms, msg=None):
        out = u8(1) + u8(i) + u8(outcome) + u8(code) + u8(sig) + u32(ms)
        return out + (u8(1) + chunk(msg) if msg is not None else u8(0))
    t["json"] = {
        "seed-two": u8(1) + chunk(b"web01") + chunk(b"ssh:web01") + chunk(b"web02") + chunk(b"ssh:web02")
        + jout(0, 0, b"hello\n") + jout(1, 1, "café \u2603\n".encode()) + jdone(0, 0, 0, 0, 1234)
        + jdone(1, 0, 1, 0, 20),
        "seed-binary": u8(0) + chunk(b"b\xe9n") + chunk(b"local") + jout(0, 0, b"\xff\xfe\x00\x1b[31m\"\\\t\r")
        + jout(0, 1, b"\xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf") + jdone(0, 4, 124, 0, 5000, b"timed out"),
        "seed-unreachable": u8(2) + chunk(b"a") + chunk(b"ssh:a") + chunk(b"b") + chunk(b"ssh:b") + chunk(b"c")
        + chunk(b"ssh:c") + jdone(0, 2, 255, 0, 3, b"connect timeout") + jout(2, 0, b"partial"),
    }

    # file: u8 flags, u8 n_top, chunks of a file stream (PROTOCOL 5.9).
    def fhash(data):
        k, m, h = 0x9E3779B97F4A7C15, (1 << 64) - 1, 0x6D67636F70793031

        def mix(h, w):
            h = ((h ^ w) * k) & m
            return h ^ (h >> 31)
        n = len(data) // 8 * 8
        for i in range(0, n, 8):
            h = mix(h, struct.unpack("<Q", data[i:i + 8])[0])
        tail = data[n:]
        h = mix(h, int.from_bytes(tail, "little") ^ (len(tail) << 59))
        return mix(h, len(data))

    def rec(kind, fields):
        return kind.encode() + u32(len(fields)) + fields

    meta = u32(0o644) + u64(1) + u32(0) + u64(1) + u32(0) + u32(0) + u32(0)

    def fdir(path):
        return rec("D", s(path) + meta)

    def ffile(path, data):
        return rec("F", s(path) + meta + u64(len(data))) + data + rec("T", u64(fhash(data)) + u32(0))

    def cfile(path, data, piece=4, size=None, err=0):
        """A file in pieces ('B' records); shorter than size: ended early."""
        size = len(data) if size is None else size
        body = b"".join(b"B" + u32(len(data[i:i + piece])) + data[i:i + piece]
                        for i in range(0, len(data), piece))
        return rec("C", s(path) + meta + u64(size)) + body + rec("T", u64(fhash(data)) + u32(err))

    good = (fdir("top") + ffile("top/a", b"alpha\n") + fdir("top/d") + ffile("top/d/b", b"x" * 100)
            + rec("L", s("top/l") + meta + s("a")) + rec("H", s("top/h") + s("top/a"))
            + rec("E", s("/src/x") + s("Permission denied")) + rec("Z", b""))
    evil = (ffile("../up", b"e") + ffile("/abs", b"e") + rec("L", s("top") + meta + s("/"))
            + ffile("top/x", b"e") + rec("H", s("h") + s("../../x")) + rec("Z", b"") + b"junk")
    pieces = (fdir("top") + cfile("top/a", b"alpha\n") + cfile("top/e", b"")
              + cfile("top/shrunk", b"abc", size=1 << 40, err=65536) + cfile("top/eio", b"", size=9, err=5)
              + cfile("top/b", b"x" * 100, piece=64) + rec("Z", b""))
    cut_evil = (fdir("top") + rec("T", u64(0) + u32(65536)) + cfile("top/v", b"vv", size=10)
                + b"B" + u32(0) + b"B" + u32(0xFFFFFFFF) + rec("Z", b""))
    t["file"] = {
        "seed-tree": u8(0x07) + u8(0) + chunk(good),
        "seed-split": u8(0x0f) + u8(0) + b"".join(chunk(good[i:i + 3]) for i in range(0, len(good), 3)),
        "seed-evil": u8(0x01) + u8(1) + chunk(evil),
        "seed-cut": u8(0x01) + u8(0) + chunk(good[:40]),
        "seed-pieces": u8(0x03) + u8(0) + b"".join(chunk(pieces[i:i + 5]) for i in range(0, len(pieces), 5)),
        "seed-pieces-evil": u8(0x01) + u8(0) + chunk(cut_evil),
    }
    # file with compress (0x20): the stream in frames (PROTOCOL 5.9).
    def zframes(data):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        z = c.compress(data) + c.flush()
        return b"D" + u32(len(z)) + z

    t["file"]["seed-zframes"] = u8(0x27) + u8(0) + chunk(zframes(good))
    t["file"]["seed-zmixed"] = u8(0x21) + u8(0) + chunk(b"S" + u32(30) + good[:30] + zframes(good[30:]))
    t["inflate"] = inflate_seeds()
    t["sftp"] = sftp_seeds()
    # leaf: the link after HELLO (context 5, parent 1): requests it
    # serves, refuses or answers dead, and a command's channels.
    sh = exec_req(0x13, ["echo hi"], cwd="~", env=["A=b"])
    t["leaf"] = {
        "seed-exec": frame(5, 1, 300, sh, reply_to=7001)
        + frame(5, 1, 1000, b"data", reply_to=8000) + frame(5, 1, 1000, b"", reply_to=8000)
        + frame(5, 1, 1001, u32(65536)) + frame(5, 1, 1003, u32(15)) + frame(5, 1, 1003, u32(0x100) + u32(24) + u32(80)),
        "seed-refused": frame(5, 1, 200, b"x", reply_to=8000) + frame(5, 1, 400, b"x", reply_to=8000)
        + frame(5, 9, 400, b"x", reply_to=8000) + frame(77, 1, 300, b"", reply_to=8000)
        + frame(5, 1, 4242, b"x", reply_to=8000)
        + frame(5, 1, 300, exec_req(0x8, ["true"], pty=(24, 80)), reply_to=7001)
        + frame(5, 1, 300, exec_req(0x40, ["true"]), reply_to=7001),
        "seed-stop": frame(5, 1, 300, exec_req(0x2, ["sleep", "9"], cwd="/nonexistent"), reply_to=7001)
        + frame(5, 1, 102, u32(1) + s("gone")) + frame(5, 1, 104),
    }
    return t


def inflate_seeds():
    """fuzz-inflate: u16 cap, then raw deflate streams of each block type."""
    text = b"".join(b"line %d of a text that repeats itself\n" % (i % 17) for i in range(300))

    def raw(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
        return c.compress(data) + c.flush()
    return {
        "seed-dynamic": u16(len(text)) + raw(text),
        "seed-fixed": u16(len(text)) + raw(text, 6, zlib.Z_FIXED),
        "seed-stored": u16(len(text)) + raw(text, 0),
        "seed-huffman": u16(len(text)) + raw(text, 6, zlib.Z_HUFFMAN_ONLY),
        "seed-empty": u16(0) + raw(b""),
        "seed-small-cap": u16(100) + raw(text),
    }


def sftp_pkt(kind, id_, body=b""):
    """One SFTP v3 request: u32 length, u8 type, u32 id, body."""
    b = u8(kind) + u32(id_) + body
    return u32(len(b)) + b


def sftp_seeds():
    """fuzz-sftp: a stream of SFTP packets after INIT (paths are taken
    under the target's sandbox directory)."""
    OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT, OPENDIR, READDIR = range(3, 13)
    REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK = range(13, 21)
    EXT = 200
    h0 = s(u32(0))
    no_attrs = u32(0)
    perm = u32(4) + u32(0o644)
    all_attrs = u32(15) + u64(5) + u32(0) + u32(0) + u32(0o600) + u32(1) + u32(2)
    return {
        "seed-write-read": sftp_pkt(OPEN, 1, s("f") + u32(0x1A) + perm)
        + sftp_pkt(WRITE, 2, h0 + u64(0) + s(b"hello\x00world"))
        + sftp_pkt(FSTAT, 3, h0) + sftp_pkt(FSETSTAT, 4, h0 + all_attrs)
        + sftp_pkt(READ, 5, h0 + u64(0) + u32(32768)) + sftp_pkt(READ, 6, h0 + u64(99) + u32(10))
        + sftp_pkt(EXT, 7, s("fsync@openssh.com") + h0) + sftp_pkt(CLOSE, 8, h0)
        + sftp_pkt(REMOVE, 9, s("f")),
        "seed-dirs": sftp_pkt(MKDIR, 1, s("d") + no_attrs) + sftp_pkt(MKDIR, 2, s("d/e") + perm)
        + sftp_pkt(OPENDIR, 3, s("d")) + sftp_pkt(READDIR, 4, h0) + sftp_pkt(READDIR, 5, h0)
        + sftp_pkt(CLOSE, 6, h0) + sftp_pkt(RENAME, 7, s("d/e") + s("d/f"))
        + sftp_pkt(EXT, 8, s("posix-rename@openssh.com") + s("d/f") + s("d/g"))
        + sftp_pkt(RMDIR, 9, s("d/g")) + sftp_pkt(RMDIR, 10, s("d")),
        "seed-paths": sftp_pkt(REALPATH, 1, s(".")) + sftp_pkt(REALPATH, 2, s("no/such"))
        + sftp_pkt(STAT, 3, s("")) + sftp_pkt(LSTAT, 4, s("x")) + sftp_pkt(SETSTAT, 5, s("") + perm)
        + sftp_pkt(READLINK, 6, s("x")) + sftp_pkt(SYMLINK, 7, s("/etc") + s("l"))
        + sftp_pkt(EXT, 8, s("statvfs@openssh.com") + s("")) + sftp_pkt(EXT, 9, s("limits@openssh.com"))
        + sftp_pkt(EXT, 10, s("hardlink@openssh.com") + s("a") + s("b")),
        "seed-bad": sftp_pkt(OPEN, 1, u32(0xFFFF)) + sftp_pkt(99, 2) + sftp_pkt(READ, 3, s(b"\xff\xff\xff\xff"))
        + sftp_pkt(EXT, 4, s("nope@example.com")) + sftp_pkt(STAT, 5, s(b"a\x00b"))
        + sftp_pkt(STAT, 6, s("../../etc/passwd")) + u32(3) + b"\x05\x00",
    }


def unlzma_seeds():
    """The agent stub's decoder (cmd/agent-stub/unlzma.h): u32 LE inflated
    length, u32 LE FNV-1a of the inflated bytes, then the payload as
    tools/pack-agent.py makes it (calls filtered, raw LZMA, or raw deflate
    for the exec-only agent)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "pack_agent", os.path.join(HERE, "..", "..", "tools", "pack-agent.py"))
    pack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack)

    def packed(raw, deflate=False):
        return struct.pack("<II", len(raw), pack.fnv1a(raw)) + pack.mask(pack.compress(raw, deflate))

    text = b"".join(b"line %d: the agent is pushed to every hop, %s\n" % (i, b"so its size matters" * (i % 4))
                    for i in range(200))
    x, code = 12345, bytearray()
    for i in range(6000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        op = (b"\xE8", b"\x8B\x05", b"\x0F\xB6\x0D", b"\xC7\x05")[i // 3 % 4]
        code += op + struct.pack("<i", (x % 4096) - 2048) if i % 3 == 0 else bytes([x >> 16 & 0xFF])
    return {"seed-text": packed(text), "seed-code": packed(bytes(code)), "seed-byte": packed(b"A"),
            "seed-runs": packed(b"\0" * 5000 + b"ab" * 3000),
            # The exec-only agent's form (pack-agent.py --deflate).
            "seed-text-deflate": packed(text, True), "seed-code-deflate": packed(bytes(code), True)}


def main():
    root = os.path.join(HERE, "corpus")
    all_seeds = seeds()
    all_seeds["unlzma"] = unlzma_seeds()
    for target, files in all_seeds.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):
            if name.startswith("seed-"):
                os.unlink(os.path.join(d, name))
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
