#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# mitogen-run over ssh hops to a private sshd on 127.0.0.1 (sshd.bash):
# the command, its status and its stdio pass through; host key checking
# in its three modes; authentication, connection and resolution failures
# name the hop and the cause; the argv is exactly mitogen's; passwords;
# and the first stage survives every common login shell.

load helpers
load sshd

function setup_file() {
    start_sshd
    # A user with a password and a key of its own, for the password tests
    # and the login shell tests. Unique per run: a crashed run leaves no
    # name behind that the next one trips over.
    MG_SSH_USER=
    MG_SSH_PASSWORD=
    if [[ -z $MG_SSHD_SKIP ]] && command -v useradd >/dev/null && command -v chpasswd >/dev/null; then
        MG_SSH_USER=mgssh$$
        # Blanks and shell quotes: the password must arrive byte-exact.
        # shellcheck disable=SC2089 # they are meant literally
        MG_SSH_PASSWORD="p w'\"\$x-$RANDOM"
        if useradd -m -s /bin/sh "$MG_SSH_USER" 2>/dev/null; then
            printf '%s:%s\n' "$MG_SSH_USER" "$MG_SSH_PASSWORD" | chpasswd
            local home
            home=$(getent passwd "$MG_SSH_USER" | cut -d: -f6)
            install -d -m 700 -o "$MG_SSH_USER" "$home/.ssh"
            install -m 600 -o "$MG_SSH_USER" "$MG_SSHD_DIR/client_key.pub" "$home/.ssh/authorized_keys"
        else
            MG_SSH_USER=
        fi
    fi
    # shellcheck disable=SC2090 # the quotes are the password's own
    export MG_SSH_USER MG_SSH_PASSWORD
}

function teardown_file() {
    stop_sshd
    if [[ -n ${MG_SSH_USER:-} ]]; then
        userdel -r "$MG_SSH_USER" 2>/dev/null || true
    fi
}

function teardown() {
    # The login shells test's, should it have failed half way.
    rm -f "/etc/sudoers.d/mitogen-test-shells$$"
    # sshd's side of a failure is often the explanation.
    if [[ -z ${BATS_TEST_COMPLETED:-} && -n ${MG_SSHD_DIR:-} && -f $MG_SSHD_DIR/sshd.log ]]; then
        echo "# sshd.log (last lines):"
        tail -n 15 "$MG_SSHD_DIR/sshd.log" | sed 's/^/#   /'
    fi
    basic_teardown
}

function need_ssh_user() {
    need_sshd
    if [[ -z ${MG_SSH_USER:-} ]]; then
        skip "could not create a test user (useradd/chpasswd)"
    fi
}

# The agent image this build pushes to the end of a one-hop chain of
# mitogen-run: the exec-only one when there is one (helpers.bash sets
# MITOGEN_AGENT).
function agent_size() {
    stat -L -c %s "$(pushed_agent)"
}

# An ssh hop to the test sshd that trusts the known_hosts file $1 instead.
function ssh_hop_kh() {
    local kh=$1
    shift
    ssh_hop "" "ssh_args=$(mg_pct "-o UserKnownHostsFile=$kh")" "$@"
}

# The hop's canonical name as error messages start with it.
function hop_re() {
    printf '^mitogen-run: ssh:127\\.0\\.0\\.1:%s' "$MG_SSH_PORT"
}

@test "ssh: id -un and uname -a through one ssh hop" {
    need_sshd
    run_mg_sep mitogen-run "$(ssh_hop)" -- id -un
    assert "$output" == "root" "the command runs as root at the far end"
    assert "$stderr" == "" "nothing on stderr"

    run_mg mitogen-run "$(ssh_hop root)" -- uname -a
    assert "$output" == "$(uname -a)" "uname -a is this host's (root@ in the spec)"

    # As sshd runs it: root's login shell, by its name (060-like-ssh.bats).
    local sh
    sh=$(getent passwd root | cut -d: -f7)
    grep -qx -- "$sh" /etc/shells || sh=/bin/sh
    run_mg mitogen-run "$(ssh_hop "" username=root)" 'echo $((6*7)) "$0"'
    assert "$output" == "42 ${sh##*/}" "one word runs through root's login shell at the far end"
}

@test "ssh: exit status and signals come back" {
    need_sshd
    local n hop
    hop=$(ssh_hop)
    for n in 0 1 3 100 255; do
        run_mg_sep "$n" mitogen-run "$hop" "exit $n"
        assert "$stderr" == "" "exit $n: nothing on stderr"
    done
    run_mg_sep 143 mitogen-run "$hop" 'kill -TERM $$'
    assert "$stderr" == "" "SIGTERM: no error of mitogen-run"
    run_mg 137 mitogen-run "$hop" -- sh -c 'kill -KILL $$'
}

@test "ssh: the command rides with the image; a deeper hop's CONNECT too" {
    need_sshd
    local hop
    hop=$(ssh_hop)
    # Sent before the hop was up, not a round trip after its HELLO reply.
    run_mg_sep 3 mitogen-run -vv "$hop" 'echo one; exit 3'
    assert "$output" == "one"
    assert "$stderr" =~ "bytes of requests (ride with|follow) the image"
    run_mg_sep 0 mitogen-run -vv "$hop/local" -- echo two
    assert "$output" == "two"
    assert "$stderr" =~ "bytes of requests (ride with|follow) the image"
    # A hop that fails still fails the command sent early with its error.
    run_mg_sep 255 mitogen-run "$hop/sudo:nosuchuser$$" -- echo three
    assert "$output" == ""
    assert "$stderr" =~ "sudo:nosuchuser$$: there is no user 'nosuchuser$$' here"
}

@test "ssh slow to close: the status comes at once, nothing is left at the far end" {
    need_sshd
    # An ssh that lingers 30 s after its session ended, as one may over a
    # slow link: the result must not wait for it (ssh itself does not).
    local wrap=$BATS_TEST_TMPDIR/slow-ssh pidf=$BATS_TEST_TMPDIR/slow-ssh.pid name=mgslow$$ t0 t1 i
    printf '#!/bin/sh\necho $$ >%s\nssh "$@"\nexec sleep 30\n' "$pidf" >"$wrap"
    chmod +x "$wrap"
    hop=$(ssh_hop "" "ssh_path=$(mg_pct "$wrap")" "remote_name=$name")
    t0=$(date +%s%N)
    run_mg_sep 3 mitogen-run "$hop" 'echo out; exit 3'
    t1=$(date +%s%N)
    assert "$output" == "out"
    assert "$stderr" == ""
    (((t1 - t0) / 1000000 < 20000)) || die "mitogen-run waited for ssh: $(((t1 - t0) / 1000000)) ms"
    # The far agent's stream ended with us: it is gone long before ssh.
    for ((i = 0; i < 50; i++)); do
        pgrep -x "$name" >/dev/null || break
        sleep 0.1
    done
    run pgrep -x "$name"
    assert "$status" -ne 0 "agent $name still runs at the far end: $output"
    # Our stub's lingering, not mitogen-run's: end it.
    kill "$(cat "$pidf")" 2>/dev/null || true
}

@test "ssh: stdout and stderr apart, stdin binary-safe (4 MiB)" {
    need_sshd
    local hop
    hop=$(ssh_hop)
    run_mg_sep mitogen-run "$hop" 'echo out1; echo err1 >&2; echo out2'
    assert "$output" == $'out1\nout2' "stdout has the stdout lines only"
    assert "$stderr" == "err1" "stderr has the stderr lines only"

    head -c $((4 * 1024 * 1024 + 12345)) /dev/urandom >"$MG_TMP/in"
    run_mg_sep mitogen-run "$hop" -- cat <"$MG_TMP/in"
    assert "$stderr" == "" "nothing on stderr"
    run cmp "$MG_TMP/in" "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "cat over ssh returns the same bytes (cmp: $output)"

    run_mg mitogen-run "$hop" -- wc -c </dev/null
    assert "$output" == "0" "empty stdin: immediate EOF"
}

@test "ssh/local and ssh/ssh: chains that start with ssh" {
    need_sshd
    local hop
    hop=$(ssh_hop)

    run_mg_sep mitogen-run "$hop/local" 'id -un; cat /proc/$PPID/comm'
    assert "$output" == $'root\nmitogen:2' "ssh/local: the command runs below agent 2"
    assert "$stderr" == "" "ssh/local: nothing on stderr"

    # The inner ssh runs from the agent at hop 1 with that agent's
    # environment: its -F comes from its own ssh_args.
    run_mg_sep mitogen-run "$hop/$hop" 'id -un; cat /proc/$PPID/comm'
    assert "$output" == $'root\nmitogen:2' "ssh/ssh: the command runs below agent 2"
    assert "$stderr" == "" "ssh/ssh: nothing on stderr"

    run_mg_sep 3 mitogen-run "$hop/$hop/local" -- sh -c 'echo deep; exit 3'
    assert "$output" == "deep" "ssh/ssh/local: output and status"
}

@test "ssh: hostile argument strings arrive byte-exact" {
    need_sshd
    local -a args=(
        'two words'
        "it's \"quoted\""
        '$(echo substituted) `echo too` $HOME'
        $'line one\nline two'
        $'non-UTF-8: \xff\xfe\x80 end'
        ''
        '*'
        '!event !! history'
        '-n'
        '\back\slash'
    )
    local script='printf "[%s]" "$@"' hop chain
    hop=$(ssh_hop)

    sh -c "$script" x "${args[@]}" >"$MG_TMP/expected"
    for chain in "$hop" "$hop/$hop"; do
        run_mg_sep mitogen-run "$chain" -- sh -c "$script" x "${args[@]}"
        assert "$stderr" == "" "nothing on stderr"
        run cmp "$MG_TMP/expected" "$MG_STDOUT_FILE"
        assert "$status" -eq 0 "argv arrives byte-exact over $chain (cmp: $output)"
    done
}

@test "check_host_keys=enforce (the default): an unknown host key fails" {
    need_sshd
    local kh=$MG_TMP/known_hosts
    : >"$kh"
    local opt
    for opt in "" "check_host_keys=enforce"; do
        run_mg_sep 255 mitogen-run "$(ssh_hop_kh "$kh" $opt)" -- id -un
        assert "$output" == "" "${opt:-default}: the command did not run"
        assert "$stderr" =~ "$(hop_re)" "${opt:-default}: the error names the hop"
        assert "$stderr" =~ "host key verification failed" "${opt:-default}: the cause"
        assert "$(wc -c <"$kh")" -eq 0 "${opt:-default}: known_hosts is left alone"
    done
}

@test "check_host_keys=enforce: a changed host key fails" {
    need_sshd
    local kh=$MG_TMP/known_hosts
    ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" >/dev/null
    printf '[127.0.0.1]:%s %s\n' "$MG_SSH_PORT" "$(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$kh"

    run_mg_sep 255 mitogen-run "$(ssh_hop_kh "$kh")" -- id -un
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "$(hop_re)" "the error names the hop"
    assert "$stderr" =~ "host key verification failed" "the cause"
}

@test "check_host_keys=ignore: unknown and changed keys are not checked" {
    need_sshd
    local kh=$MG_TMP/known_hosts
    : >"$kh"
    run_mg_sep mitogen-run "$(ssh_hop_kh "$kh" check_host_keys=ignore)" -- id -un
    assert "$output" == "root" "unknown host key: connected anyway"
    assert "$(wc -c <"$kh")" -eq 0 "ignore records nothing"

    ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" >/dev/null
    printf '[127.0.0.1]:%s %s\n' "$MG_SSH_PORT" "$(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$kh"
    run_mg mitogen-run "$(ssh_hop_kh "$kh" check_host_keys=ignore)" -- id -un
    assert "$output" == "root" "changed host key: connected anyway"
}

@test "check_host_keys=accept: an unknown host key is accepted and recorded" {
    need_sshd
    local kh=$MG_TMP/known_hosts
    : >"$kh"
    run_mg_sep mitogen-run "$(ssh_hop_kh "$kh" check_host_keys=accept)" -- id -un
    assert "$output" == "root" "connected after answering yes"
    assert "$(cat "$kh")" == "[127.0.0.1]:$MG_SSH_PORT $MG_SSH_HOST_PUB" \
        "the host key is now in known_hosts, and nothing else"
    # Trust on first use is shown, with the key's fingerprint; -q hides it.
    local fp
    fp=$(ssh-keygen -l -E sha256 -f <(echo "$MG_SSH_HOST_PUB") | awk '{print $2}')
    assert "$stderr" =~ "^mitogen-run: ssh:127.0.0.1:$MG_SSH_PORT[^ ]*: accepting the unknown host key: " \
        "the key taken is shown"
    assert "${stderr#*: accepting the unknown host key: }" == "ED25519 key fingerprint is $fp." "by its fingerprint"
    : >"$kh"
    run_mg_sep mitogen-run -q "$(ssh_hop_kh "$kh" check_host_keys=accept)" -- id -un
    assert "$output" == "root" "-q: connected"
    assert "$stderr" == "" "-q: nothing shown"
    assert "$(wc -l <"$kh")" -eq 1 "-q: recorded all the same"

    # Now known: enforce accepts it, and accept asks nothing.
    run_mg mitogen-run "$(ssh_hop_kh "$kh")" -- id -un
    assert "$output" == "root" "enforce with the recorded key"
    run_mg_sep mitogen-run "$(ssh_hop_kh "$kh" check_host_keys=accept)" -- id -un
    assert "$output" == "root" "accept with a known key"
    assert "$stderr" == "" "a known key: no word of it"

    # A changed key is never accepted, even in accept mode.
    ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" >/dev/null
    printf '[127.0.0.1]:%s %s\n' "$MG_SSH_PORT" "$(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$kh"
    run_mg_sep 255 mitogen-run "$(ssh_hop_kh "$kh" check_host_keys=accept)" -- id -un
    assert "$stderr" =~ "host key verification failed" "accept: a changed key still fails"
    assert "$stderr" =~ "has changed" "accept: the message says why"
}

@test "check_host_keys=other: refused before anything runs" {
    run_mg_sep 2 mitogen-run "ssh:127.0.0.1?check_host_keys=sometimes" -- true
    assert "$stderr" =~ "column 15: check_host_keys= must be accept, enforce or ignore" "the message"
    run_mg_sep 2 mitogen-run --dry-run "ssh:127.0.0.1?check_host_keys=yes"
    assert "$stderr" =~ "check_host_keys= must be accept, enforce or ignore" "--dry-run says so too"
}

@test "ssh: authentication failures say so" {
    need_sshd
    # A user sshd does not know.
    run_mg_sep 255 mitogen-run "$(ssh_hop no-such-user-mg)" -- id -un
    assert "$output" == "" "unknown user: the command did not run"
    assert "$stderr" =~ "^mitogen-run: ssh:no-such-user-mg@127\\.0\\.0\\.1:$MG_SSH_PORT" \
        "unknown user: the error names the hop"
    assert "$stderr" =~ "SSH authentication is incorrect" "unknown user: the cause"

    # root with a key that is not authorized, and no other key offered:
    # a config without the test's IdentityFile.
    ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" >/dev/null
    printf 'UserKnownHostsFile %s\nGlobalKnownHostsFile /dev/null\n' "$MG_SSH_KNOWN_HOSTS" \
        >"$MG_TMP/ssh_config"
    run_mg_sep 255 mitogen-run \
        "ssh:root@127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_TMP/ssh_config")&identity_file=$(mg_pct "$MG_TMP/other")" \
        -- id -un
    assert "$stderr" =~ "SSH authentication is incorrect" "unauthorized key: the cause"
}

@test "ssh: connection refused and unresolvable host" {
    skip_if_no_program ssh
    skip_if_no_program ss
    local port
    port=$(_mg_free_port)
    run_mg_sep 255 mitogen-run "ssh:127.0.0.1:$port?ssh_args=-F%20%2Fdev%2Fnull" -- true
    assert "$stderr" =~ "^mitogen-run: ssh:127\\.0\\.0\\.1:$port" "refused: the error names the hop"
    assert "$stderr" =~ "connection refused" "refused: the cause"

    run_mg_sep 255 mitogen-run "ssh:no-such-host.invalid?ssh_args=-F%20%2Fdev%2Fnull" -- true
    assert "$stderr" =~ "^mitogen-run: ssh:no-such-host\\.invalid" "unresolvable: the error names the hop"
    assert "$stderr" =~ "could not resolve" "unresolvable: the cause"
    assert "$stderr" =~ "no-such-host.invalid" "unresolvable: ssh's own line is shown"
}

@test "--dry-run shows the exact ssh argv" {
    local size hop rest
    local -a words expect inner
    size=$(agent_size)

    hop='ssh:deploy@127.0.0.1:2222?ssh_args=-F%20%2Fetc%2Fmg%20-A&identity_file=%2Fk&connect_timeout=5'
    run_mg_sep mitogen-run --dry-run "$hop"
    assert "$stderr" == "" "--dry-run: nothing on stderr"
    assert "${#lines[@]}" -eq 1 "one line for one hop"
    assert "${lines[0]}" =~ "^ssh:deploy@127\\.0\\.0\\.1:2222[?][^ ]*: ssh " "the hop, then the ssh command"
    rest=${lines[0]#*: }
    # The line is shell-quoted: let the shell split it back into words.
    eval "words=($rest)"
    # Compression is off by default (compression=yes turns it on).
    expect=(ssh -o 'LogLevel ERROR' -l deploy -p 2222 -o 'IdentitiesOnly yes' -i /k
        -o 'ServerAliveInterval 15' -o 'ServerAliveCountMax 3'
        -o 'BatchMode yes' -o 'StrictHostKeyChecking yes' -o 'ConnectTimeout 5'
        -F /etc/mg -A 127.0.0.1)
    local n=${#expect[@]}
    assert "${#words[@]}" -eq $((n + 1)) "ssh's words, then one word for the remote command"
    assert "$(printf '[%s]' "${words[@]:0:n}")" == "$(printf '[%s]' "${expect[@]}")" "the ssh argv"
    # The remote command is one word a POSIX shell splits into the boot argv.
    eval "inner=(${words[n]})"
    assert "${#inner[@]}" -eq 6 "the remote command has the six words of the first stage"
    assert "${inner[0]} ${inner[1]}" == "/bin/sh -c" "run by /bin/sh -c"
    assert "${inner[2]}" =~ "^n=\\\$1;f=;c=.*;trap .*;x=;while f=\\\$\\(trap .* TERM HUP INT;umask 077;set -C;" "the first stage script: 077 only where it makes the file"
    assert "${inner[3]} ${inner[4]}" == "mitogen-boot $size" "\$0 and the image size"

    # A password or check_host_keys=accept: no BatchMode, ssh may ask.
    run_mg mitogen-run --dry-run 'ssh:h?check_host_keys=accept&compression=no&keepalive_enabled=no'
    rest=${lines[0]#*: }
    eval "words=($rest)"
    expect=(ssh -o 'LogLevel ERROR' -o 'StrictHostKeyChecking ask' h)
    n=${#expect[@]}
    assert "${#words[@]}" -eq $((n + 1)) "accept mode: nothing else"
    assert "$(printf '[%s]' "${words[@]:0:n}")" == "$(printf '[%s]' "${expect[@]}")" "accept mode"
    run_mg mitogen-run --dry-run 'ssh:h?password_env=X&check_host_keys=ignore&ssh_debug_level=2'
    rest=${lines[0]#*: }
    eval "words=($rest)"
    expect=(ssh -vv -o 'IdentitiesOnly yes' -o 'ServerAliveInterval 15'
        -o 'ServerAliveCountMax 3' -o 'StrictHostKeyChecking no' -o 'UserKnownHostsFile /dev/null'
        -o 'GlobalKnownHostsFile /dev/null' h)
    n=${#expect[@]}
    assert "$(printf '[%s]' "${words[@]:0:n}")" == "$(printf '[%s]' "${expect[@]}")" "password, ignore, -vv"

    # Two hops: two lines, the second with its own options.
    run_mg mitogen-run --dry-run 'ssh:a/ssh:b:23?compression=0'
    assert "${#lines[@]}" -eq 2 "one line per hop"
    assert "${lines[1]}" =~ "^ssh:a/ssh:b:23[?]compression=0: ssh -o 'LogLevel ERROR' -p 23 -o 'ServerAliveInterval 15'" \
        "hop 2: its own port and options"
}

@test "password_env and password_file: a user with a password" {
    need_ssh_user
    local nokey
    nokey=$(mg_pct "-o PubkeyAuthentication=no")
    local hop
    hop=$(ssh_hop "$MG_SSH_USER" "password_env=MG_TEST_PW" "ssh_args=$nokey")

    MG_TEST_PW=$MG_SSH_PASSWORD run_mg_sep mitogen-run "$hop" -- id -un
    assert "$output" == "$MG_SSH_USER" "password_env: logged in as the test user"
    assert "$stderr" == "" "password_env: nothing on stderr"

    printf '%s\n' "$MG_SSH_PASSWORD" >"$MG_TMP/pw"
    run_mg mitogen-run "$(ssh_hop "$MG_SSH_USER" "password_file=$(mg_pct "$MG_TMP/pw")" "ssh_args=$nokey")" -- id -un
    assert "$output" == "$MG_SSH_USER" "password_file: logged in as the test user"

    # The password of an inner hop: an agent asks the master for it.
    MG_TEST_PW=$MG_SSH_PASSWORD run_mg mitogen-run "$(ssh_hop)/$hop" -- id -un
    assert "$output" == "$MG_SSH_USER" "password_env on hop 2 of ssh/ssh"

    MG_TEST_PW=wrong run_mg_sep 255 mitogen-run "$hop" -- id -un
    assert "$output" == "" "wrong password: the command did not run"
    assert "$stderr" =~ "^mitogen-run: ssh:$MG_SSH_USER@127\\.0\\.0\\.1:$MG_SSH_PORT" "wrong password: the hop"
    assert "$stderr" =~ "SSH password is incorrect" "wrong password: the cause"

    run_mg_sep 255 env -u MG_TEST_PW mitogen-run "$hop" -- id -un
    assert "$stderr" =~ "MG_TEST_PW is not set" "password_env names a variable that is not set"

    # Without a password option there is no PTY: BatchMode fails fast.
    run_mg_sep 255 mitogen-run "$(ssh_hop "$MG_SSH_USER" "ssh_args=$nokey")" -- id -un
    assert "$stderr" =~ "SSH authentication is incorrect" "no password given: authentication fails"
}

@test "login shells: the first stage survives sh, bash, zsh, mksh, tcsh, csh and fish" {
    need_ssh_user
    local sh path tried=0 fuse=
    local script='printf "[%s]" "$@"'
    local -a args=("it's" '$HOME !! `x`' $'a\nb')
    sh -c "$script" x "${args[@]}" >"$MG_TMP/expected"
    # sudo without a password for the user: the fused first stage, sudo
    # in the ssh command (PROTOCOL 2.3.3), under each login shell too.
    if command -v sudo >/dev/null && command -v visudo >/dev/null && [[ -d /etc/sudoers.d ]]; then
        fuse=/etc/sudoers.d/mitogen-test-shells$$
        printf '%s ALL=(root) NOPASSWD: ALL\n' "$MG_SSH_USER" >"$MG_TMP/sudoers"
        if visudo -c -q -f "$MG_TMP/sudoers"; then
            install -m 0440 -o root -g root "$MG_TMP/sudoers" "$fuse"
        else
            fuse=
        fi
    fi
    for sh in sh bash zsh mksh tcsh csh fish; do
        path=$(command -v "$sh") || continue
        tried=$((tried + 1))
        usermod -s "$path" "$MG_SSH_USER"
        run_mg_sep mitogen-run "$(ssh_hop "$MG_SSH_USER")" -- sh -c "$script" x "${args[@]}"
        assert "$stderr" == "" "$sh: nothing on stderr"
        run cmp "$MG_TMP/expected" "$MG_STDOUT_FILE"
        assert "$status" -eq 0 "$sh as the login shell: argv byte-exact (cmp: $output)"
        [[ -n $fuse ]] || continue
        run_mg_sep mitogen-run -vv "$(ssh_hop "$MG_SSH_USER")/sudo" -- sh -c "$script" x "${args[@]}"
        run cmp "$MG_TMP/expected" "$MG_STDOUT_FILE"
        assert "$status" -eq 0 "$sh as the login shell, sudo in its command: argv byte-exact (cmp: $output)"
        if [[ -f $MG_BUILD_DIR/cmd/mitogen-agent-lite && -z ${MITOGEN_AGENT_LITE+set} &&
            $MG_SANITIZE == none ]]; then
            assert "$stderr" =~ "sudo runs in the command" "$sh: fused"
            assert "$stderr" !~ "did not start the agent" "$sh: no fallback"
        fi
    done
    usermod -s /bin/sh "$MG_SSH_USER"
    rm -f -- "${fuse:-/nonexistent}"
    assert "$tried" -ge 2 "at least sh and bash were tried"
}

# vim: filetype=sh

@test "password_env: the variable reaches neither ssh nor the far end (SendEnv LC_*)" {
    need_sshd
    # Debian's ssh_config sends LC_*; ssh_debug_level=1 prints each
    # variable sent ("Sending env LC_MGPW = ..."). A control variable
    # shows that the sending works at all.
    local secret=mg-secret-$RANDOM$RANDOM
    local hop
    hop=$(ssh_hop "" "password_env=LC_MGPW" "ssh_debug_level=1" \
        "ssh_args=$(mg_pct "-o SendEnv=LC_*")")
    LC_MGPW=$secret LC_MGOTHER=sent-$secret run_mg_sep mitogen-run -vv "$hop" -- env
    assert "$output" =~ "LC_MGOTHER=sent-$secret" "the control variable was sent"
    assert "$stderr" =~ "([Ss]ending|setting) env LC_MGOTHER" "ssh -v says what it sends"
    assert "$output" !~ "LC_MGPW=" "the remote command's environment lacks it"
    assert "$stderr" !~ "env LC_MGPW" "ssh did not send it"
    assert "$stderr$output" !~ "[^-]$secret" "the password is nowhere"

    # The same when the ssh hop is started by a local agent, and with the
    # variable named on another chain than the one that goes over ssh.
    LC_MGPW=$secret LC_MGOTHER=sent-$secret run_mg_sep mitogen-run -vv \
        -w "local/$hop,local/$(ssh_hop "" "ssh_debug_level=1" "ssh_args=$(mg_pct "-o SendEnv=LC_*")")" -- env
    assert "$output" =~ "LC_MGOTHER=sent-$secret" "behind local: the control variable was sent"
    assert "$output" !~ "LC_MGPW=" "behind local: the remote environment lacks it"
    assert "$stderr" !~ "env LC_MGPW" "behind local: ssh did not send it"
    assert "$stderr$output" !~ "[^-]$secret" "behind local: the password is nowhere"
}

@test "password_env: the variable reaches no local or fork agent, command or hop command" {
    # An ssh stand-in records its environment and fails: the hop commands
    # started by the master and by an agent. No sshd needed.
    cat >"$MG_TMP/ssh-env" <<SH
#!/bin/sh
env >"$MG_TMP/ssh-env.\$\$"
exit 255
SH
    chmod +x "$MG_TMP/ssh-env"
    local stand_in
    stand_in=$(mg_pct "$MG_TMP/ssh-env")
    local secret=mg-secret-$RANDOM$RANDOM
    # Each target prints its command's environment, then its agent's
    # (the command's parent) as /proc shows it.
    LC_MGPW=$secret run_mg_sep 255 mitogen-run -w \
        "local,fork,local/local,fork/local,local/fork,ssh:a?password_env=LC_MGPW&ssh_path=$stand_in,local/ssh:b?ssh_path=$stand_in" \
        -- 'env; tr "\0" "\n" </proc/$PPID/environ; echo "HOME: $HOME"'
    assert "$output" =~ "local[+]fork: HOME: /" "the commands ran, with the rest of their environment"
    assert "$output" !~ "LC_MGPW" "no agent or command has it"
    assert "$output" !~ "$secret" "the password is nowhere in their environments"
    local f n=0
    for f in "$MG_TMP"/ssh-env.*; do
        [[ -e $f ]] || continue
        n=$((n + 1))
        assert "$(cat "$f")" !~ "LC_MGPW" "$f: the ssh hop's environment lacks it"
        assert "$(grep -c '^HOME=' "$f")" == "1" "$f: but has the rest"
    done
    assert "$n" == "2" "both ssh stand-ins ran (from the master and from an agent)"

    # Without password_env= anywhere, the variable is the user's to pass on.
    LC_MGPW=$secret run_mg mitogen-run -w 'local,fork' -- 'env'
    assert "$output" =~ "LC_MGPW=$secret" "not named by any hop: passed on as before"
}

@test "ssh: the agent grows its pipes to sshd to 1 MiB (a file's frame in one write)" {
    need_sshd
    # The pipes the agent shares with sshd (its parent), but for its
    # stderr (its log lines), are its link: each must hold MG_PIPE_SIZE
    # (1 MiB), not the 64 KiB default.
    run_mg mitogen-run "$(ssh_hop)" -- python3 -c '
import fcntl, os
def pipes(pid):
    d = "/proc/%s/fd" % pid
    out = {}
    for n in os.listdir(d):
        try:
            t = os.readlink("%s/%s" % (d, n))
        except OSError:
            continue
        if t.startswith("pipe:") and n != "2":
            out[t] = "%s/%s" % (d, n)
    return out
agent = os.getppid()
with open("/proc/%d/stat" % agent) as f:
    sshd = f.read().rsplit(")", 1)[1].split()[1]
theirs = pipes(sshd)
for t, path in sorted(pipes(agent).items()):
    if t in theirs:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        print("link", fcntl.fcntl(fd, 1032))  # F_GETPIPE_SZ
        os.close(fd)
'
    assert "$output" =~ "link" "the agent has pipes to sshd"
    assert "$output" !~ "link 65536" "none left at the default size"
    assert "$(grep -c '^link 1048576$' <<<"$output")" == "2" "both of them at 1 MiB"
}

@test "ssh: the agent, leaf or exec-only, is closed to its user: no trace, no /proc reading" {
    need_ssh_user
    # PROTOCOL 2.5: an agent is not dumpable, so its /proc entry is
    # root's; the command is a plain process of the user again. The leaf
    # agent (2.3.4, pushed here unless MITOGEN_AGENT_LEAF=) was open.
    local env uid
    uid=$(id -u "$MG_SSH_USER")
    for env in MG_AGENT_UNDER_TEST=leaf MITOGEN_AGENT_LEAF=; do
        run_mg_sep env "$env" mitogen-run "$(ssh_hop "$MG_SSH_USER")" -- "$AGENT_CLOSED_PROBE"
        assert_agent_closed "$uid" "$env"
    done
}

@test "a login slower than -t: the first stage that starts after the master gave up leaves no file" {
    need_ssh_user
    # A login shell that takes its time (a slow profile, NFS home): by
    # the time the first stage writes its marker, the link is gone. The
    # user runs it, so it lives where the user may go. Under load the
    # key exchange alone may outlast -t, and then no shell starts at all:
    # "started" tells, and -t grows (the shell's delay with it) until the
    # login reaches the shell in time.
    local dir
    dir=$(mktemp -d /tmp/mg-slow.XXXXXX)
    chown "$MG_SSH_USER" "$dir"
    chmod 755 "$dir"
    cat >"$dir/slow-shell" <<SH
#!/bin/sh
: >"$dir/started"
sleep "\$(cat "$dir/delay")"
/bin/sh "\$@"
echo \$? >"$dir/done"
SH
    chmod 755 "$dir/slow-shell"
    local before
    before=$(find /tmp /var/tmp /dev/shm -maxdepth 1 -name '.mitogen-agent.*' -user "$MG_SSH_USER" 2>/dev/null | wc -l)
    usermod -s "$dir/slow-shell" "$MG_SSH_USER"
    local form i t
    for form in "" "image_in_command=no"; do
        for t in 1 3 6; do
            rm -f "$dir/done" "$dir/started"
            echo $((t + 2)) >"$dir/delay"
            run_mg_sep 255 mitogen-run -t "$t" "$(ssh_hop "$MG_SSH_USER" $form)" -- true
            assert "$stderr" =~ "connect timed out" "${form:-image in the command}: -t $t ended the run"
            # A session asked for just before the end may start after it.
            for ((i = 0; i < 20; i++)); do
                [[ -e $dir/started ]] && break
                sleep 0.1
            done
            [[ -e $dir/started ]] && break
        done
        [[ -e $dir/started ]] || die "${form:-image in the command}: the login never reached the shell within -t $t"
        for ((i = 0; i < (t + 12) * 10; i++)); do
            [[ -e $dir/done ]] && break
            sleep 0.1
        done
        # SIGPIPE uncaught: 141, and the file stays.
        assert "$(cat "$dir/done" 2>/dev/null)" == "1" \
            "${form:-image in the command}: the first stage ran, and exited through its trap"
        assert "$(find /tmp /var/tmp /dev/shm -maxdepth 1 -name '.mitogen-agent.*' -user "$MG_SSH_USER" 2>/dev/null | wc -l)" \
            == "$before" "${form:-image in the command}: no agent file left behind"
    done
    usermod -s /bin/sh "$MG_SSH_USER"
    rm -rf -- "$dir"
}

@test "[defaults] in the config: options for the hops that do not give them, the chain's own first" {
    need_sshd
    local hop=ssh:127.0.0.1:$MG_SSH_PORT cfg=$XDG_CONFIG_HOME/mitogen/config
    mkdir -p "${cfg%/*}"
    # Without the test sshd's ssh_config, ssh has neither its key nor its
    # host key: the default is what makes this hop work.
    run_mg 255 mitogen-run "$hop" -- echo ok
    printf '[defaults]\nssh.ssh_args = -F %s\nconnect_timeout = 20\nssh.connect_timeout = 30\nsudo.sudo_args = -H\n' \
        "$MG_SSH_CONFIG" >"$cfg"
    run_mg 0 mitogen-run "$hop" -- echo ok
    assert "$output" == "ok" "ran with the default ssh_args"
    # METHOD.OPTION before OPTION, and the chain's own before both.
    run_mg 0 mitogen-run --dry-run "$hop/sudo" -- true
    assert "$output" =~ "'ConnectTimeout 30' -F $MG_SSH_CONFIG " "ssh.connect_timeout and ssh.ssh_args"
    assert "$output" =~ " -u root -H --" "sudo.sudo_args"
    run_mg 0 mitogen-run --dry-run "$hop?connect_timeout=3/sudo?sudo_args=-E" -- true
    assert "$output" =~ "'ConnectTimeout 3'" "the chain's connect_timeout"
    assert "$output" =~ " -u root -E --" "the chain's sudo_args"
    # A default of the wrong form: exit 2 naming the file and line, before
    # any hop starts.
    printf '[defaults]\n\nkeepalive_count = many\n' >"$cfg"
    run_mg 2 mitogen-run "$hop" -- echo ok
    assert "$output" =~ "$cfg:3: option keepalive_count: expected a whole number, not 'many'" "the error"
}
