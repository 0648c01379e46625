#!/usr/bin/python3
"""Python mitogen's side of tests/bench/bench-call.sh (Debian's
python3-mitogen): a no-op function called on a context, sequentially and
with IN_FLIGHT call_async at once.

    mitogen_call.py local|ssh:HOST:PORT:SSH_CONFIG [N_SEQ] [N_PIPE] [IN_FLIGHT]
"""
import sys
import time

import mitogen.master
import mitogen.select


def noop(x):
    return x


def report(what, n, t0):
    us = (time.monotonic() - t0) * 1e6 / n
    print("%-28s %8d calls %10.1f us/call %12.0f calls/s" % (what, n, us, 1e6 / us))


def main():
    target = sys.argv[1]
    n_seq = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n_pipe = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        if target == 'local':
            ctx = router.local(python_path='/usr/bin/python3')
        else:
            _, host, port, config = target.split(':', 3)
            ctx = router.ssh(hostname=host, port=int(port), python_path='/usr/bin/python3',
                             ssh_args=['-F', config], check_host_keys='ignore')
        ctx.call(noop, 0)
        t0 = time.monotonic()
        for i in range(n_seq):
            ctx.call(noop, i)
        report("sequential", n_seq, t0)
        t0 = time.monotonic()
        done = 0
        while done < n_pipe:
            batch = min(window, n_pipe - done)
            recvs = [ctx.call_async(noop, i) for i in range(batch)]
            for _ in mitogen.select.Select.all(recvs):
                pass
            done += batch
        report("pipelined", n_pipe, t0)
    finally:
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    main()
