#!/usr/bin/env bats
#
# tcp_nodelay (lib/hop/connect/ssh.c, cmd/mitogen-connect.c): an ssh hop
# whose configuration lets ssh open the connection itself gets it from
# mitogen-connect, with TCP_NODELAY set, through ProxyCommand and
# ProxyUseFdpass; a ProxyCommand of the user's own is kept; ssh's errors
# and host key checks are unchanged (200-ssh.bats runs with the helper on).

load helpers
load sshd

function setup_file() {
    start_sshd
}

function teardown_file() {
    stop_sshd
}

function need_helper() {
    need_sshd
    skip_if_no_program python3
    if [[ ! -x ${MITOGEN_CONNECT:-} ]]; then
        skip "mitogen-connect is not built"
    fi
}

# An ssh_config like the harness's, with a ProxyCommand of the user's own:
# a relay in python3 that notes each use in $MG_TMP/relay.log.
function config_with_proxy() {
    cat >"$MG_TMP/relay.py" <<'PY'
import os, select, socket, sys
host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log, "a") as f:
    f.write("relay %s %d\n" % (host, port))
s = socket.create_connection((host, port))
while True:
    r, _, _ = select.select([0, s], [], [])
    if 0 in r:
        d = os.read(0, 65536)
        if not d:
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(d)
    if s in r:
        d = s.recv(65536)
        if not d:
            break
        os.write(1, d)
PY
    {
        printf 'Host 127.0.0.1\n  ProxyCommand python3 %s %%h %%p %s\n' \
            "$MG_TMP/relay.py" "$MG_TMP/relay.log"
        cat "$MG_SSH_CONFIG"
    } >"$MG_TMP/proxy_config"
}

@test "tcp_nodelay: mitogen-connect opens the connection and ssh uses it" {
    need_helper
    run_mg_sep mitogen-run -vv "$(ssh_hop)" -- echo through
    assert "$output" == "through" "the command ran"
    assert "$stderr" =~ "connecting with TCP_NODELAY through $MITOGEN_CONNECT" "the helper was chosen"
    assert "$stderr" =~ "ProxyUseFdpass=yes" "ssh was told to take the connection from it"
}

# The route is read from the config files where they say it plainly
# (lib/hop/connect/ssh-route.c): no `ssh -G` on the way of the hop; where
# they hold what that reader does not follow (a Match block), ssh -G says.
@test "tcp_nodelay: a plain ssh_config is read directly, a Match block is left to ssh -G" {
    need_helper
    run_mg_sep mitogen-run -vv "$(ssh_hop)" -- echo direct
    assert "$output" == "direct" "the command ran"
    assert "$stderr" =~ "connecting with TCP_NODELAY through $MITOGEN_CONNECT \(config read directly\)" \
        "the helper was chosen without ssh -G"
    { printf 'Match host nosuchhost\n  Port 1\n'; cat "$MG_SSH_CONFIG"; } >"$MG_TMP/match_config"
    run_mg_sep mitogen-run -vv \
        "ssh:127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_TMP/match_config")" -- echo probed
    assert "$output" == "probed" "the command ran"
    assert "$stderr" =~ "connecting with TCP_NODELAY through $MITOGEN_CONNECT" "ssh -G chose the helper"
    assert "$stderr" !~ "config read directly" "the file was not read as plain"
}

@test "mitogen-connect: passes a connected socket with TCP_NODELAY set" {
    need_helper
    run python3 - "$MITOGEN_CONNECT" "$MG_SSH_PORT" <<'PY'
import array, socket, subprocess, sys
helper, port = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
p = subprocess.Popen([helper, "127.0.0.1", port, "5", "inet"], stdout=b)
b.close()
fds = array.array("i")
msg, anc, flags, addr = a.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[:fds.itemsize])
s = socket.socket(fileno=fds[0])
print("status", p.wait())
print("nodelay", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0)
print("peer", s.getpeername()[1])
print("banner", s.recv(4).decode())
PY
    assert "$status" -eq 0 "the check ran: $output"
    assert "${lines[0]}" == "status 0" "the helper exits 0"
    assert "${lines[1]}" == "nodelay True" "TCP_NODELAY is on"
    assert "${lines[2]}" == "peer $MG_SSH_PORT" "connected to sshd"
    assert "${lines[3]}" == "banner SSH-" "sshd speaks on it"
}

# "quickack": a copy of the socket also goes to whoever reads the helper's
# stderr, with one NUL byte, where that is a unix socket; a pipe there
# costs nothing but the copy, and without the word nothing is sent.
@test "mitogen-connect: quickack hands a copy of the socket on stderr" {
    need_helper
    run python3 - "$MITOGEN_CONNECT" "$MG_SSH_PORT" <<'PY'
import array, os, socket, subprocess, sys
helper, port = sys.argv[1], sys.argv[2]

def fds_of(sock):
    fds = array.array("i")
    sock.settimeout(5)
    try:
        msg, anc, flags, addr = sock.recvmsg(16, socket.CMSG_LEN(4 * fds.itemsize))
    except socket.timeout:
        return b"timeout", []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return msg, list(fds)

def run(extra, err_kind):
    a, b = socket.socketpair()
    if err_kind == "socket":
        ea, eb = socket.socketpair()
        err = eb
    else:
        ea, err = os.pipe()
    p = subprocess.Popen([helper, "127.0.0.1", port, "5", "any"] + extra, stdout=b, stderr=err)
    b.close()
    os.close(err) if isinstance(err, int) else err.close()
    _, out = fds_of(a)
    status = p.wait()
    if err_kind == "socket":
        ea.shutdown(socket.SHUT_WR)
        data, got = fds_of(ea)
    else:
        data, got = os.read(ea, 16), []
    peers = [socket.socket(fileno=f).getpeername()[1] for f in out + got]
    print(" ".join(map(str, [extra or "-", err_kind, status, len(out), len(got), repr(data)] + peers)))

run(["quickack"], "socket")
run([], "socket")
run(["quickack"], "pipe")
PY
    assert "$status" -eq 0 "the check ran: $output"
    assert "${lines[0]}" == "['quickack'] socket 0 1 1 b'\\x00' $MG_SSH_PORT $MG_SSH_PORT" \
        "quickack: ssh's socket and its copy, with one NUL"
    assert "${lines[1]}" == "- socket 0 1 0 b'' $MG_SSH_PORT" "without it: nothing on stderr"
    assert "${lines[2]}" == "['quickack'] pipe 0 1 0 b'' $MG_SSH_PORT" "a pipe: nothing written, status 0"
    run_mg_sep 2 "$MITOGEN_CONNECT" 127.0.0.1 "$MG_SSH_PORT" 5 any other
    assert "$stderr" =~ "^usage: mitogen-connect HOST PORT" "only the word quickack"
}

# The hop's stderr is a socketpair for ssh (lib/hop/quickack.h): the copy
# is watched from the first byte until the command prints.
@test "tcp_nodelay: the login's packets are acknowledged at once, until the command runs" {
    need_helper
    run_mg_sep mitogen-run -vv "$(ssh_hop)" -- echo quick
    assert "$output" == "quick" "the command ran"
    assert "$stderr" =~ "acknowledging the login's packets at once" "the copy came"
    assert "$stderr" =~ "[1-9][0-9]* arrivals acknowledged at once during the login" \
        "arrivals were seen, and the watch ended"
    local tail=${stderr#*during the login}
    assert "$tail" =~ "agent up" "it ended before the agent was up"
    run_mg_sep mitogen-run -vv "$(ssh_hop "" tcp_nodelay=no)" -- echo slow
    assert "$output" == "slow" "tcp_nodelay=no: ran"
    assert "$stderr" !~ "acknowledg" "tcp_nodelay=no: no quick ACKs"
}

# Anything else handed on ssh's stderr (a program of the user's, a hostile
# wrapper) is closed at once, and its byte is no text: only a TCP socket
# is watched, and only setsockopt() touches it. A group of more fds than a
# frame may carry is refused whole. A child of the wrapper sees the pipe
# end at EOF once every copy sent is closed.
@test "tcp_nodelay: a descriptor that is no TCP socket on ssh's stderr is refused" {
    need_helper
    cat >"$MG_TMP/fake-ssh" <<PY
#!$(command -v python3)
import array, os, select, socket, sys
r, w = os.pipe()
err = socket.socket(fileno=os.dup(2))
def send(fds):
    err.sendmsg([b"\\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())])
send([r, w])
send([w] * 5)
err.close()
os.close(w)
if os.fork() == 0:
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    ready = select.select([r], [], [], 20)[0]
    with open("$MG_TMP/w-state", "w") as f:
        f.write("closed" if ready and os.read(r, 1) == b"" else "open")
    os._exit(0)
os.close(r)
os.write(2, b"fake ssh: passing on\\n")
os.execvp("ssh", ["ssh"] + sys.argv[1:])
PY
    chmod +x "$MG_TMP/fake-ssh"
    # The command waits for the child's verdict, so the hop is still up
    # (and any copy mitogen-run kept still open) while the child looks.
    run_mg_sep mitogen-run -vv "$(ssh_hop "" "ssh_path=$(mg_pct "$MG_TMP/fake-ssh")")" -- \
        sh -c 'while [ ! -s "$1" ]; do sleep 0.1; done; cat "$1"' sh "$MG_TMP/w-state"
    assert "$output" == "closed" "the hop came up, and every copy of the pipe sent was closed"
    # Had the NUL been taken as text, the line would print empty.
    assert "$stderr" =~ ": fake ssh: passing on" "its text was read as text"
    assert "$stderr" !~ "acknowledging" "the pipe was not watched"
}

# ssh runs the helper through $SHELL -c: the helper itself where nothing
# else of ssh's uses $SHELL (a login shell's rc files would cost every hop,
# and even /bin/sh is one exec more), the user's own where a LocalCommand
# or a SendEnv taking SHELL applies, or where ssh -G read the config (a
# Match exec runs through it too). The wrapper here is not the helper's
# own path, so the helper hands its words to /bin/sh, which runs the
# wrapper once more: the first line is what ssh gave.
@test "tcp_nodelay: ssh's SHELL for the helper is the helper unless ssh uses \$SHELL otherwise" {
    need_helper
    printf '#!/bin/sh\necho "$SHELL" >>"%s"\nexec "%s" "$@"\n' \
        "$MG_TMP/shell.log" "$MITOGEN_CONNECT" >"$MG_TMP/connect"
    chmod +x "$MG_TMP/connect"
    { printf 'Host *\n  SendEnv LANG LC_*\n'; cat "$MG_SSH_CONFIG"; } >"$MG_TMP/plain_config"
    { printf 'Host *\n  PermitLocalCommand no\n  LocalCommand true\n'; cat "$MG_SSH_CONFIG"; } >"$MG_TMP/local_config"
    { printf 'Host *\n  SendEnv SH*\n'; cat "$MG_SSH_CONFIG"; } >"$MG_TMP/send_config"
    { printf 'Match host nosuchhost\n  Port 1\n'; cat "$MG_SSH_CONFIG"; } >"$MG_TMP/match_config"
    local c want
    for c in plain local send match; do
        want=/bin/bash
        [[ $c != plain ]] || want=$MG_TMP/connect
        : >"$MG_TMP/shell.log"
        MITOGEN_CONNECT=$MG_TMP/connect SHELL=/bin/bash run_mg_sep mitogen-run -vv \
            "ssh:127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_TMP/${c}_config")" -- echo "$c"
        assert "$output" == "$c" "$c: the command ran"
        assert "$(head -1 "$MG_TMP/shell.log")" == "$want" "$c: the helper's SHELL"
    done
    assert "$stderr" !~ "without a shell" "match: no word of it"
    run_mg_sep mitogen-run -vv \
        "ssh:127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_TMP/plain_config")" -- echo direct
    assert "$output" == "direct" "the helper as SHELL: the command ran"
    assert "$stderr" =~ "ProxyCommand run without a shell \(SHELL=$MITOGEN_CONNECT for ssh\)" "-vv says so"
}

# As ssh's SHELL the helper gets -c "exec COMMAND": its own words (its own
# path first, each bare or in '...', \' between) it takes itself; any
# other text, or a word a shell would expand, is /bin/sh's, as before.
@test "mitogen-connect: run as ssh's SHELL, takes its own words itself, leaves the rest to /bin/sh" {
    need_helper
    local port
    port=$(_mg_free_port)
    run_mg_sep 255 "$MITOGEN_CONNECT" -c "exec $MITOGEN_CONNECT '127.0.0.1' $port 5 inet quickack"
    assert "$stderr" == "ssh: connect to host 127.0.0.1 port $port: Connection refused" "its own words"
    run_mg_sep 255 "$MITOGEN_CONNECT" -c "exec '$MITOGEN_CONNECT' 'no'\\''such'.invalid $port"
    assert "$stderr" =~ "^ssh: Could not resolve hostname no'such.invalid: " "a quote inside a word"
    run_mg_sep 3 "$MITOGEN_CONNECT" -c 'echo "$0": hi; exit 3'
    assert "$output" == "sh: hi" "other text: /bin/sh ran it"
    run_mg_sep 0 "$MITOGEN_CONNECT" -c 'echo "$0" "$1"' zero one
    assert "$output" == "zero one" "-c with more words: all of them /bin/sh's"
    run_mg_sep 255 "$MITOGEN_CONNECT" -c "exec $MITOGEN_CONNECT \$(printf 127.0.0.1) $port"
    assert "$stderr" == "ssh: connect to host 127.0.0.1 port $port: Connection refused" \
        "a word to expand: /bin/sh expanded it, then ran the helper"
    run_mg_sep 0 "$MITOGEN_CONNECT" -c "exec printf %s\\\\n 'not the helper'"
    assert "$output" == "not the helper" "another program: /bin/sh ran it"
    run_mg_sep 255 "$MITOGEN_CONNECT" -c "exec $MITOGEN_CONNECT  127.0.0.1 $port"
    assert "$stderr" == "ssh: connect to host 127.0.0.1 port $port: Connection refused" \
        "two spaces: /bin/sh split the words, as sh does"
}

# No /bin/sh at all on the way of its own words (strace sees every exec).
@test "mitogen-connect: its own words run no shell" {
    need_helper
    command -v strace >/dev/null || skip "no strace"
    local port
    port=$(_mg_free_port)
    # LeakSanitizer cannot run under ptrace.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        run_mg_sep 255 strace -f -qq -e trace=execve -o "$MG_TMP/trace" \
        "$MITOGEN_CONNECT" -c "exec $MITOGEN_CONNECT 127.0.0.1 $port"
    assert "$(grep -c execve "$MG_TMP/trace")" == "1" "one exec, the helper's own: $(cat "$MG_TMP/trace")"
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        run_mg_sep 255 strace -f -qq -e trace=execve -o "$MG_TMP/trace" \
        "$MITOGEN_CONNECT" -c "exec $MITOGEN_CONNECT \"127.0.0.1\" $port"
    assert "$(grep -c 'execve("/bin/sh"' "$MG_TMP/trace")" == "1" "a double quote: /bin/sh's"
}

@test "mitogen-connect: a refused connect is reported as ssh reports it, 255" {
    need_helper
    local port
    port=$(_mg_free_port)
    run_mg_sep 255 "$MITOGEN_CONNECT" 127.0.0.1 "$port"
    assert "$stderr" == "ssh: connect to host 127.0.0.1 port $port: Connection refused" "ssh's words"
    run_mg_sep 2 "$MITOGEN_CONNECT"
    assert "$stderr" =~ "^usage: mitogen-connect HOST PORT" "usage"
}

@test "tcp_nodelay: a ProxyCommand in the user's ssh_config is kept" {
    need_helper
    config_with_proxy
    local hop
    hop="ssh:127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_TMP/proxy_config")"
    run_mg_sep mitogen-run -vv "$hop" -- echo relayed
    assert "$output" == "relayed" "the command ran"
    assert "$(cat "$MG_TMP/relay.log")" == "relay 127.0.0.1 $MG_SSH_PORT" "the user's ProxyCommand carried it"
    assert "$stderr" !~ "TCP_NODELAY" "the helper was not used"
    # ProxyJump given in ssh_args is kept as well.
    run_mg_sep 255 mitogen-run -vv "$(ssh_hop "" connect_timeout=5)&ssh_args=-J&ssh_args=127.0.0.1:1" -- true
    assert "$stderr" !~ "TCP_NODELAY" "-J: the helper was not used"
}

@test "tcp_nodelay=no, MITOGEN_CONNECT= and ssh_path= leave ssh alone" {
    need_helper
    run_mg_sep mitogen-run -vv "$(ssh_hop "" tcp_nodelay=no)" -- echo a
    assert "$output" == "a" "tcp_nodelay=no: ran"
    assert "$stderr" !~ "TCP_NODELAY" "tcp_nodelay=no: no helper"
    MITOGEN_CONNECT='' run_mg_sep mitogen-run -vv "$(ssh_hop)" -- echo b
    assert "$output" == "b" "MITOGEN_CONNECT=: ran"
    assert "$stderr" !~ "TCP_NODELAY" "MITOGEN_CONNECT=: no helper"
    run_mg_sep mitogen-run -vv "$(ssh_hop "" "ssh_path=$(mg_pct "$(command -v ssh)")")" -- echo c
    assert "$output" == "c" "ssh_path: ran"
    assert "$stderr" !~ "TCP_NODELAY" "ssh_path: no helper"
    run_mg_sep 2 mitogen-run "$(ssh_hop "" tcp_nodelay=maybe)" -- true
    assert "$stderr" =~ "option tcp_nodelay: expected yes or no, not 'maybe'" "a bad value"
    run_mg_sep 2 mitogen-run --dry-run "ssh:h?tcp_nodelay=maybe"
    assert "$stderr" =~ "option tcp_nodelay: expected yes or no" "--dry-run says so too"
}

# The harness itself (sshd.bash): sshd forks before it binds and exits 0
# whatever the port, so a port held by an ssh client's end of a connection
# once left a file's tests with no sshd ("Connection refused"). The launch
# must see that and say so, and the free ports must lie below the kernel's
# ephemeral range.
@test "harness: sshd on a port a connection holds is seen to fail" {
    need_sshd
    local fd lport lo hi me=$BASHPID
    exec {fd}<>"/dev/tcp/127.0.0.1/$MG_SSH_PORT"
    # This shell's pid, taken here: inside the pipeline below $BASHPID is
    # awk's subshell, which ss may list or not depending on timing.
    lport=$(ss -Htnp "dport = :$MG_SSH_PORT" | awk -v pid="pid=$me," \
        'index($0, pid) {n = split($4, a, ":"); print a[n]; exit}')
    assert "$lport" =~ "^[0-9]+$" "the connection's own port: $(ss -Htnp "dport = :$MG_SSH_PORT")"
    mkdir "$MG_TMP/d"
    sed "s/^Port .*/Port $lport/; s|^PidFile .*|PidFile $MG_TMP/d/sshd.pid|" \
        "$MG_SSHD_DIR/sshd_config" >"$MG_TMP/d/sshd_config"
    MG_SSHD_DIR=$MG_TMP/d run _mg_sshd_launch
    exec {fd}>&-
    assert "$status" -eq 1 "the launch failed"
    assert "$(cat "$MG_TMP/d/sshd.log")" =~ "Cannot bind any address" "for the port"
    assert "$(ls "$MG_TMP/d")" !~ "sshd.pid" "no daemon left"
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    run _mg_free_port
    assert "$status" -eq 0 "a port: $output"
    if ((lo > 11000)); then
        assert "$output" -lt "$lo" "a free port below $lo: $output"
    elif ((65535 - hi >= 100)); then
        assert "$output" -gt "$hi" "a free port above $hi: $output"
    else
        assert "$output" -ge "$lo" "a free port in $lo-$hi: $output"
    fi
}
