"""A minimal speaker of docs/PROTOCOL.md for hostile test agents.

Hostile stubs (tests/stubs/hostile/*) import this to act as a broken or
malicious mitogen-agent: they are started as a hop (as MITOGEN_AGENT, or by
a docker_path stand-in) and then say whatever they like on the stream.
Blocking I/O on fds 0/1 is enough: a stub serves one connection.
"""
import os
import struct
import sys

MAGIC = 0x4D47
HDR = struct.Struct(">HHIIIIII")  # magic flags dst src auth_id handle reply_to length
F_DEAD = 0x1

H_HELLO, H_ADD_ROUTE, H_DEL_ROUTE, H_LOG, H_SHUTDOWN, H_PASSWORD = 100, 101, 102, 103, 104, 105
H_CONNECT, H_EXEC, H_FETCH = 200, 300, 301
EV_STARTED, EV_EXITED, EV_FAILED = 1, 2, 3


def u8(v):
    return struct.pack(">B", v)


def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack(">Q", v)


def pstr(s):
    if s is None:
        return u32(0xFFFFFFFF)
    if isinstance(s, str):
        s = s.encode()
    return u32(len(s)) + s


class Reader:
    """Decodes payload items in order (raises ValueError when short)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("short payload")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def str(self):
        n = self.u32()
        return None if n == 0xFFFFFFFF else self.take(n)

    def strv(self):
        return [self.str() for _ in range(self.u32())]


class Msg:
    def __init__(self, flags, dst, src, auth_id, handle, reply_to, data):
        self.flags, self.dst, self.src, self.auth_id = flags, dst, src, auth_id
        self.handle, self.reply_to, self.data = handle, reply_to, data

    def __repr__(self):
        return "Msg(dst=%d src=%d handle=%d reply_to=%d len=%d)" % (
            self.dst, self.src, self.handle, self.reply_to, len(self.data))


class Agent:
    """One end of a hop stream: fd 0 in, fd 1 out (as the first stage gives)."""

    def __init__(self, rfd=0, wfd=1):
        self.rfd, self.wfd = rfd, wfd
        self.id = None
        self.parents = []
        self.max_msg = 4 << 20
        self.next_handle = 1000

    def write(self, b):
        view = memoryview(b)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]

    def read_exact(self, n):
        out = bytearray()
        while len(out) < n:
            b = os.read(self.rfd, n - len(out))
            if not b:
                raise EOFError("stream ended")
            out += b
        return bytes(out)

    def up(self):
        self.write(b"MITO002\n")

    def recv(self):
        h = HDR.unpack(self.read_exact(HDR.size))
        if h[0] != MAGIC:
            raise ValueError("bad magic")
        return Msg(h[1], h[2], h[3], h[4], h[5], h[6], self.read_exact(h[7]))

    def send(self, dst, handle, data=b"", reply_to=0, flags=0, src=None, auth_id=None):
        src = self.id if src is None else src
        auth_id = src if auth_id is None else auth_id
        self.write(HDR.pack(MAGIC, flags, dst, src, auth_id, handle, reply_to, len(data)) + data)

    def handle(self):
        h = self.next_handle
        self.next_handle += 1
        return h

    def hello(self, uid=None):
        """Wait for HELLO, take the id and answer it as a real agent would."""
        m = self.recv()
        if m.handle != H_HELLO:
            raise ValueError("expected HELLO, got %r" % m)
        r = Reader(m.data)
        version = r.u32()
        self.id = r.u32()
        self.parents = [r.u32() for _ in range(r.u32())]
        self.max_msg = r.u32()
        uname = os.uname()
        self.send(m.src, m.reply_to, u32(version) + u32(os.getpid()) +
                  u32(os.getuid() if uid is None else uid) +
                  pstr(uname.machine) + pstr(uname.nodename))
        return m

    @property
    def parent(self):
        return self.parents[0]

    @property
    def master(self):
        return self.parents[-1]

    def add_route(self, ctx_id, name="x"):
        self.send(self.parent, H_ADD_ROUTE, u32(ctx_id) + pstr(name))

    def exec_reply(self, req, event, payload=b""):
        self.send(req.src, req.reply_to, u8(event) + payload)


def boot_args():
    """Remove the first stage's temp file when started as 'FILE --boot FILE'."""
    if len(sys.argv) >= 3 and sys.argv[1] == "--boot":
        try:
            os.unlink(sys.argv[2])
        except OSError:
            pass


def log(path, *words):
    """Append one line to a recording file (the test reads it back)."""
    if path:
        with open(path, "a") as f:
            f.write(" ".join(str(w) for w in words) + "\n")
