#!/usr/bin/python3
"""The same work with Python mitogen (Debian's python3-mitogen), for the
benchmarks: connect a chain and run one command at its end, once.

    mitogen_py.py local [local ...]
    mitogen_py.py ssh HOST PORT SSH_CONFIG [sudo]
"""
import subprocess
import sys

import mitogen.master
import mitogen.utils


def main():
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        args = sys.argv[1:]
        ctx = None
        if args[0] == 'local':
            for _ in args:
                ctx = router.local(via=ctx, python_path='/usr/bin/python3')
        elif args[0] == 'ssh':
            host, port, config = args[1], int(args[2]), args[3]
            ctx = router.ssh(hostname=host, port=port, python_path='/usr/bin/python3',
                             ssh_args=['-F', config], check_host_keys='ignore')
            if len(args) > 4 and args[4] == 'sudo':
                ctx = router.sudo(via=ctx, python_path='/usr/bin/python3')
        rc = ctx.call(subprocess.call, ['true'])
        sys.exit(rc)
    finally:
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    main()
