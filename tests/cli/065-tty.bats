#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# The interactive terminal paths, driven from a real pseudo-terminal and
# compared with ssh -t to the private sshd: mitogen-run -T, fakessh -t
# and a fakessh login. Our terminal goes raw only once the chain is up
# (a password prompt, ^C during a connect, as with ssh), is restored
# exactly, and the far terminal gets what ssh's terminal request gives.

load helpers
load sshd

function setup_file() {
    start_sshd
    # ptydrive.py [-z ROWS COLS] [-s STTY-ARGS] -- COMMAND...: runs COMMAND on a
    # new pseudo-terminal (its controlling one, ROWS x COLS, stty
    # STTY-ARGS first) and follows the steps on stdin, one a line:
    #   expect RE [SECS]  wait for RE (python, on the output so far)
    #   send TEXT         write TEXT (backslash escapes: \r, \x03)
    #   sleep SECS        let it run
    #   kill SIG          signal COMMAND (TERM, HUP, INT)
    #   wait [SECS]       wait for it to end
    # Then prints the output (\r dropped), "rc=N" (or rc=hung: it was
    # still running at the end and got SIGTERM, or an expect failed:
    # "expect failed: RE") and "restored=yes|no": whether the terminal's
    # modes (stty -g) are those it had before COMMAND started.
    cat >"$BATS_FILE_TMPDIR/ptydrive.py" <<'EOF'
import codecs, fcntl, os, pty, re, select, signal, struct, subprocess, sys, termios, time
args = sys.argv[1:]
rows, cols, stty = 24, 80, None
while args and args[0] != '--':
    if args[0] == '-z':
        rows, cols, args = int(args[1]), int(args[2]), args[3:]
    elif args[0] == '-s':
        stty, args = args[1].split(), args[2:]
argv = args[1:]
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
if stty:
    subprocess.run(['stty'] + stty, stdin=s, check=True)
before = termios.tcgetattr(s)
def ctty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
p = subprocess.Popen(argv, stdin=s, stdout=s, stderr=s, preexec_fn=ctty)
out = b''
def pump(secs):
    global out
    end = time.time() + secs
    while True:
        r, _, _ = select.select([m], [], [], max(0.0, end - time.time()))
        if not r:
            return
        try:
            d = os.read(m, 65536)
        except OSError:
            return
        if not d:
            return
        out += d
failed = None
for line in sys.stdin.read().splitlines():
    word, _, rest = line.strip().partition(' ')
    if not word or (failed and word not in ('kill', 'wait')):
        continue
    if word == 'expect':
        rx, _, secs = rest.rpartition(' ')
        if not rx or not re.fullmatch(r'[0-9.]+', secs):
            rx, secs = rest, '20'
        end = time.time() + float(secs)
        while not re.search(rx.encode(), out) and time.time() < end:
            pump(0.05)
        if not re.search(rx.encode(), out):
            failed = rx
    elif word == 'send':
        os.write(m, codecs.decode(rest, 'unicode_escape').encode('latin-1'))
    elif word == 'sleep':
        pump(float(rest))
    elif word == 'kill':
        p.send_signal(getattr(signal, 'SIG' + rest))
    elif word == 'wait':
        end = time.time() + float(rest or 20)
        while p.poll() is None and time.time() < end:
            pump(0.05)
pump(0.2)
rc = p.poll()
if rc is None:
    # Hung: SIGTERM (mitogen-run stops its hops), then SIGKILL.
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    pump(0.2)
sys.stdout.write(out.decode('utf-8', 'replace').replace('\r', ''))
print('\nexpect failed: %s' % failed if failed else '')
print('rc=%s' % ('hung' if rc is None else rc if rc >= 0 else 128 - rc))
print('restored=%s' % ('yes' if termios.tcgetattr(s) == before else 'no'))
EOF
}

function teardown_file() {
    stop_sshd
}

# pty_run [-z R C] [-s STTY] -- COMMAND...: ptydrive.py with the steps on stdin.
function pty_run() {
    skip_if_no_program python3
    run_mg python3 "$BATS_FILE_TMPDIR/ptydrive.py" "$@"
}

# A hop whose ssh never answers: its connect hangs until the timeout.
function hang_hop() {
    printf '#!/bin/sh\nexec sleep 1000\n' >"$MG_TMP/hang-ssh"
    chmod +x "$MG_TMP/hang-ssh"
    printf 'ssh:nohost?ssh_path=%s' "$(mg_pct "$MG_TMP/hang-ssh")"
}

@test "-T, -t: ^C while the chain connects stops it, as with ssh -t" {
    local hop cmd
    hop=$(hang_hop)
    for cmd in "mitogen-run -T" "fakessh -t"; do
        # shellcheck disable=SC2086 # the command and its option
        pty_run -- $cmd "$hop" true <<<$'sleep 1\nsend \\x03\nwait 15'
        assert "$output" =~ "interrupted" "$cmd: ^C interrupted the connect"
        assert "${lines[-2]}" == "rc=130" "$cmd: ended by SIGINT, not hung"
        assert "${lines[-1]}" == "restored=yes" "$cmd: our terminal as it was"
    done
}

@test "-T, -t: a hop's password prompt reads a line typed on our terminal" {
    local chain cmd
    chain="doas:nobody?doas_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/doas")"
    for cmd in "mitogen-run -T" "fakessh -t"; do
        # shellcheck disable=SC2086 # the command and its option
        MG_STUB_DOAS_PASSWORD='pw' pty_run -- $cmd "$chain" 'echo ran; exit 3' \
            <<<$'expect password: $\nsend pw\\r\nexpect ran\nwait 15\nkill TERM\nwait 10'
        assert "$output" =~ $'\nran\n' "$cmd: the command ran"
        assert "${lines[-2]}" =~ "rc=(3|255)" "$cmd: its status"
        assert "${lines[-1]}" == "restored=yes" "$cmd: our terminal as it was"
    done
}

@test "fakessh -t: no 'Connection to X closed.' after our SIGTERM or SIGHUP, as ssh -t" {
    local sig cmd out
    local -a cmds=("fakessh -t local" "fakessh -t local/local")
    if [[ -z ${MG_SSHD_SKIP:-} ]]; then
        cmds+=("ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -t 127.0.0.1")
    fi
    for cmd in "${cmds[@]}"; do
        for sig in TERM HUP; do
            # shellcheck disable=SC2086 # the command and its options
            pty_run -- $cmd 'echo start; sleep 61' <<<$'expect start\nsleep 0.5\nkill '"$sig"$'\nwait 15'
            assert "${lines[-2]}" == "rc=255" "$cmd, SIG$sig: ssh's status"
            assert "$output" !~ "Connection to" "$cmd, SIG$sig: nothing said"
            assert "${lines[-1]}" == "restored=yes" "$cmd, SIG$sig: our terminal as it was"
        done
        # A far command killed by a signal of its own: the session ended
        # there, and ssh says so.
        # shellcheck disable=SC2086 # the command and its options
        pty_run -- $cmd 'echo start; kill -KILL $$' <<<$'expect start\nwait 15'
        assert "${lines[-2]}" == "rc=255" "$cmd, killed there: ssh's status"
        assert "$output" =~ "Connection to [^ ]* closed." "$cmd, killed there: ssh's note"
    done
}

@test "-T: a command that closes its terminal and runs on gets no hangup, as with ssh -tt" {
    # Its stdio closed, nothing holds the terminal's slave side: the far
    # end reads its end there (EIO) while the command still runs. sshd
    # keeps the master open until the command is reaped; so must we, or
    # the command is hung up (SIGHUP, 129). head -1 closes its stdio
    # before it exits: it met this at random.
    local script='exec 0<&- 1>&- 2>&-; sleep 1; exit 7' cmd
    local -a cmds=("mitogen-run -T local")
    if [[ -z ${MG_SSHD_SKIP:-} && -n ${MG_SSH_PORT:-} ]]; then
        cmds+=("mitogen-run -T $(ssh_hop)" "fakessh -t $(ssh_hop)"
            "ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -tt 127.0.0.1")
    fi
    for cmd in "${cmds[@]}"; do
        # shellcheck disable=SC2086 # the command and its options
        run_mg 7 $cmd "$script" </dev/null
    done
}

@test "mitogen-run -T, fakessh -t: our TERM at the far end, over an ssh hop too, as ssh -t" {
    need_sshd
    local cmd
    for cmd in "mitogen-run -T $(ssh_hop)" "fakessh -t $(ssh_hop)" "mitogen-run -T local" \
        "ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -t 127.0.0.1"; do
        # shellcheck disable=SC2086 # the command and its options
        TERM=xterm-mgtest pty_run -- $cmd 'echo "TERM=$TERM."' <<<'wait 30'
        assert "$output" =~ "TERM=xterm-mgtest\." "$cmd: ours"
        assert "${lines[-2]}" == "rc=0" "$cmd: status"
    done
    # -e TERM= is the user's word: it wins.
    TERM=xterm-mgtest pty_run -- mitogen-run -T -e TERM=vt100 "$(ssh_hop)" 'echo "TERM=$TERM."' <<<'wait 30'
    assert "$output" =~ "TERM=vt100\." "-e TERM= wins"
}

@test "mitogen-run -T, fakessh -t: SSH_TTY names the far terminal over ssh, as ssh -t; not without -T, nor outside ssh" {
    need_sshd
    local cmd
    for cmd in "mitogen-run -T $(ssh_hop)" "fakessh -t $(ssh_hop)" \
        "ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -t 127.0.0.1"; do
        # shellcheck disable=SC2086 # the command and its options
        pty_run -- $cmd 'echo "SSH_TTY=${SSH_TTY-unset}. tty=$(tty)."' <<<'wait 30'
        assert "$output" =~ "SSH_TTY=(/dev/pts/[0-9]+)\. tty=(/dev/pts/[0-9]+)\." "$cmd: set"
        assert "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" "$cmd: the command's own terminal"
    done
    run_mg mitogen-run "$(ssh_hop)" 'echo "SSH_TTY=${SSH_TTY-unset}."'
    assert "$output" == "SSH_TTY=unset." "no terminal asked for: none named"
    SSH_TTY= SSH_CONNECTION= pty_run -- env -u SSH_TTY -u SSH_CONNECTION mitogen-run -T local \
        'echo "SSH_TTY=${SSH_TTY-unset}."' <<<'wait 30'
    assert "$output" =~ "SSH_TTY=unset\." "no ssh login: none named"
    pty_run -- mitogen-run -T -e SSH_TTY=mine "$(ssh_hop)" 'echo "SSH_TTY=${SSH_TTY-unset}."' <<<'wait 30'
    assert "$output" =~ "SSH_TTY=mine\." "-e SSH_TTY= wins"
}

@test "mitogen-run -T, fakessh -t: the far terminal gets our modes (erase, intr, iutf8, ixon), as ssh -t" {
    local cmd
    local -a cmds=("mitogen-run -T local" "mitogen-run -T local/local" "fakessh -t local")
    if [[ -z ${MG_SSHD_SKIP:-} ]]; then
        cmds+=("mitogen-run -T $(ssh_hop)" "ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -t 127.0.0.1")
    fi
    for cmd in "${cmds[@]}"; do
        # shellcheck disable=SC2086 # the command and its options
        pty_run -s 'erase ^H intr ^B kill ^X iutf8 -ixon -echoctl' -- $cmd 'stty -a' <<<'wait 30'
        assert "$output" =~ "intr = \^B;" "$cmd: intr"
        assert "$output" =~ "erase = \^H;" "$cmd: erase"
        assert "$output" =~ "kill = \^X;" "$cmd: kill"
        assert "$output" =~ "(^|[[:space:]])iutf8([[:space:]]|$)" "$cmd: iutf8"
        assert "$output" =~ "(^|[[:space:]])-ixon([[:space:]]|$)" "$cmd: -ixon"
        assert "$output" =~ "(^|[[:space:]])-echoctl([[:space:]]|$)" "$cmd: -echoctl"
        assert "${lines[-1]}" == "restored=yes" "$cmd: our terminal as it was"
    done
}
