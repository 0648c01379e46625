#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# mitogen-run on many ssh targets for real: fifty aliases (web01..web50)
# of the one private sshd on 127.0.0.1, gathered output, a bastion that
# fans out to twenty hosts from its own agent (one connection to it, not
# twenty), the fan-out window through it, hosts that cannot be reached
# and JSON. Needs root and sshd (see sshd.bash); skips otherwise.

load helpers
load sshd

function setup_file() {
    export BATS_NO_PARALLELIZE_WITHIN_FILE=true
    # Fifty logins a test is scale, not memory safety: the sanitizer
    # build runs the fan-out's code through 500-many (82 s of CI's 30
    # minutes here).
    if [[ ${MG_SANITIZE:-none} != none ]]; then
        export MG_MANY_SSH_SKIP=1
        return 0
    fi
    start_sshd
    [[ -z $MG_SSHD_SKIP ]] || return 0

    # All fifty "hosts" are one sshd: its default MaxStartups (10:30:100)
    # would drop, at random, logins past ten at once. Real hosts each
    # count their own; raise it here, then let sshd re-read its config
    # (SIGHUP: it re-executes itself and listens again).
    printf 'MaxStartups 200:30:300\n' >>"$MG_SSHD_DIR/sshd_config"
    kill -HUP "$(<"$MG_SSHD_DIR/sshd.pid")"
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ $(grep -c 'Server listening' "$MG_SSHD_DIR/sshd.log") -ge 2 ]] &&
            [[ -n $(ss -Hltn "sport = :$MG_SSH_PORT" 2>/dev/null) ]]; then
            break
        fi
        sleep 0.05
    done

    # A client config of our own: the one of sshd.bash (its 'Host *'
    # gives keys and known hosts; HostName and Port are not set there,
    # so the first values, below, win) plus aliases. web* all reach the
    # test sshd, whose host key is known as [127.0.0.1]:PORT; dead* point
    # at a port nothing listens on.
    local dead_port
    dead_port=$(_mg_free_port)
    MG_MANY_CONFIG=$BATS_FILE_TMPDIR/many_ssh_config
    {
        cat <<EOF
Host web*
    HostName 127.0.0.1
    Port $MG_SSH_PORT
Host dead*
    HostName 127.0.0.1
    Port $dead_port
    ConnectTimeout 5
EOF
        cat "$MG_SSH_CONFIG"
    } >"$MG_MANY_CONFIG"
    export MG_MANY_CONFIG
}

function teardown_file() {
    stop_sshd
}

function setup() {
    if [[ -n ${MG_MANY_SSH_SKIP:-} ]]; then
        skip "fifty ssh logins a test run in a build without sanitizers"
    fi
    basic_setup
    need_sshd
}

function teardown() {
    basic_teardown
}

# The ssh_args= option that makes an ssh hop use our config.
function many_args() {
    printf 'ssh_args=%s\n' "$(mg_pct "-F $MG_MANY_CONFIG")"
}

# "NAME: $(hostname)" for each name, one per line, sorted.
function expect_lines() {
    local host name
    host=$(hostname)
    for name in "$@"; do
        printf '%s: %s\n' "$name" "$host"
    done | LC_ALL=C sort
}

# webNN for NN in FIRST..LAST.
function webs() {
    local i
    for ((i = $1; i <= $2; i++)); do
        printf 'web%02d\n' "$i"
    done
}

# Successful public key logins in the sshd log so far.
function logins() {
    grep -c 'Accepted publickey' "$MG_SSHD_DIR/sshd.log" || true
}

@test "the alias config reaches the test sshd" {
    # Plain ssh first: if this fails, the config is wrong, not mitogen.
    run_mg ssh -F "$MG_MANY_CONFIG" -o BatchMode=yes web07 echo via-alias
    assert "$output" == "via-alias" "ssh web07 through the alias config"
}

@test "50 ssh aliases: one prefixed line each, web01..web50" {
    run_mg_sep mitogen-run -w "ssh:web[01-50]?$(many_args)" -- uname -n
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 50))" \
        "fifty targets, each named after its alias"
    assert "$stderr" == "" "nothing on stderr"
}

@test "-b gathers the 50 into one group web[01-50]" {
    run_mg_sep mitogen-run -b -w "ssh:web[01-50]?$(many_args)" -- uname -n
    assert "$output" == "$(printf '%s\n' --------------- 'web[01-50]' --------------- "$(hostname)")" \
        "one group, names folded"
    assert "$stderr" == "" "nothing on stderr"
}

@test "a tree: the bastion is connected once, its agent connects the 20 below" {
    # A wrapper for the inner hops' ssh: it logs the comm of the process
    # that runs it (the bastion's agent, mitogen:N; not mitogen-run).
    local wrap=$MG_TMP/ssh-wrap ssh_bin
    ssh_bin=$(command -v ssh)
    cat >"$wrap" <<EOF
#!/bin/sh
cat /proc/\$PPID/comm >>$MG_TMP/ssh-callers
exec $ssh_bin "\$@"
EOF
    chmod 755 "$wrap"

    local before after bastion
    bastion=$(ssh_hop)
    before=$(logins)
    run_mg_sep mitogen-run -w "$bastion/ssh:web[01-20]?$(many_args)&ssh_path=$(mg_pct "$wrap")" -- uname -n
    after=$(logins)
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 20))" \
        "twenty targets behind the bastion"
    assert "$((after - before))" -eq 21 "sshd logins: 1 bastion + 20 inner (not 40)"
    assert "$(wc -l <"$MG_TMP/ssh-callers")" -eq 20 "the inner ssh ran 20 times"
    assert "$(sort -u "$MG_TMP/ssh-callers" | sed 's/[0-9]*$/N/')" == "mitogen:N" \
        "every inner ssh was started by the bastion's agent"
}

@test "-f 5 through the bastion still completes all 20" {
    local bastion before after
    bastion=$(ssh_hop)
    before=$(logins)
    MG_TIMEOUT=30 run_mg_sep mitogen-run -f 5 -w "$bastion/ssh:web[01-20]?$(many_args)" -- uname -n
    after=$(logins)
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 20))" \
        "-f 5: twenty targets"
    assert "$((after - before))" -eq 21 "-f 5: still one bastion login"
}

@test "-f 1: a first hop holds the only place while the bastion's chains wait" {
    local bastion
    bastion=$(ssh_hop)
    # (a hang is the failure to look for: do not wait the full default)
    MG_TIMEOUT=10 run_mg_sep mitogen-run -f 1 -w "ssh:web30?$(many_args),$bastion/ssh:web[01-05]?$(many_args)" -- uname -n
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 5) web30)" \
        "-f 1: six targets"
}

# More ssh hops starting at once than CPUs: the TCP_NODELAY probe (an ssh
# -G, a shell and mitogen-connect each) and the image in the command (its
# escaping here, two shells parsing it there) would only add CPU where the
# CPU sets the pace; the first NPROC hops get both, the others are left to
# ssh with the image on stdin, and run all the same.
@test "more hops starting at once than CPUs: only the first NPROC probe for TCP_NODELAY" {
    local ncpu n last
    ncpu=$(nproc) # the CPUs this process may use, as mitogen-run counts them
    ((ncpu + 3 <= 50)) || skip "$ncpu CPUs: more than the 50 aliases"
    [[ -x ${MITOGEN_CONNECT:-} ]] || skip "mitogen-connect is not built"
    n=$((ncpu + 3))
    last=$(printf '%02d' "$n")
    run_mg_sep mitogen-run -vv -w "ssh:web[01-$last]?$(many_args)" -- uname -n
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 "$n"))" \
        "every target ran"
    assert "$(grep -c 'connecting with TCP_NODELAY' <<<"$stderr")" == "$ncpu" "$ncpu probed"
    assert "$(grep -c "other hops starting on $ncpu CPUs: no ssh preparation, the image on stdin" <<<"$stderr")" == "3" \
        "the 3 others were not, and got the image on stdin"
    # The same below an agent of this host (local/), which counts its own.
    run_mg_sep mitogen-run -vv -w "local/ssh:web[01-$last]?$(many_args)" -- uname -n
    assert "$(grep -c 'connecting with TCP_NODELAY' <<<"$stderr")" == "$ncpu" "below local/: $ncpu probed"
    assert "$(grep -c "other hops starting on $ncpu CPUs: no ssh preparation, the image on stdin" <<<"$stderr")" == "3" \
        "below local/: the 3 others were not"
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 "$n"))" \
        "below local/: every target ran"
    # One target alone still gets it.
    run_mg_sep mitogen-run -vv "ssh:web01?$(many_args)" -- uname -n
    assert "$(grep -c 'connecting with TCP_NODELAY' <<<"$stderr")" == "1" "one target: probed"
}

# A cpuset (taskset, a container's --cpuset-cpus) counts, not the CPUs the
# host has: pinned to one CPU, the second hop starting is already a fan-out.
@test "pinned to one CPU: only the first hop probes for TCP_NODELAY" {
    command -v taskset >/dev/null || skip "no taskset"
    [[ -x ${MITOGEN_CONNECT:-} ]] || skip "mitogen-connect is not built"
    local cpu
    cpu=$(first_cpu)
    run_mg_sep taskset -c "$cpu" mitogen-run -vv -w "ssh:web[01-04]?$(many_args)" -- uname -n
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 4))" \
        "every target ran"
    assert "$(grep -c 'connecting with TCP_NODELAY' <<<"$stderr")" == "1" "one probed"
    assert "$(grep -c "other hops starting on 1 CPUs: no ssh preparation, the image on stdin" <<<"$stderr")" == "3" \
        "the 3 others were not"
}

@test "two targets that cannot connect: exit 255, the summary names both" {
    run_mg_sep 255 mitogen-run -w "ssh:web[01-08]?$(many_args),ssh:dead[01-02]?$(many_args)" -- uname -n
    # shellcheck disable=SC2046
    assert "$(printf '%s\n' "$output" | LC_ALL=C sort)" == "$(expect_lines $(webs 1 8))" \
        "the eight reachable ones ran"
    local summary
    summary=$(printf '%s\n' "$stderr" | grep -E '^mitogen-run: [0-9]+ of [0-9]+ failed: ' || true)
    assert "$summary" =~ "^mitogen-run: 2 of 10 failed: dead\\[01-02\\] \\(" "both named, folded, in the summary"
    assert "$summary" !~ "web" "no web host failed"

    # --failed lists them; -w ^FILE retries exactly those.
    run_mg_sep 255 mitogen-run --failed "$MG_TMP/failed" -w "ssh:web01?$(many_args),ssh:dead[01-02]?$(many_args)" -- true
    assert "$(LC_ALL=C sort "$MG_TMP/failed")" == \
        "$(printf '%s\n' "ssh:dead01?$(many_args)" "ssh:dead02?$(many_args)")" "the failed chains"
}

@test "--json over ssh" {
    skip_if_no_program python3
    run_mg_sep 255 mitogen-run --json \
        -w "ssh:web[01-05]?$(many_args),ssh:dead01?$(many_args)" -- sh -c 'hostname; echo e >&2; exit 3'
    assert "${#lines[@]}" -eq 6 "one object per target"
    cat >"$MG_TMP/check.py" <<'EOF'
import json, socket, sys
host = sys.argv[2]
objs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    objs[o["target"]] = o
assert sorted(objs) == ["dead01", "web01", "web02", "web03", "web04", "web05"], sorted(objs)
for i in range(1, 6):
    o = objs["web%02d" % i]
    assert o["chain"].startswith("ssh:web%02d?ssh_args=" % i), o["chain"]
    assert o["outcome"] == "failed" and o["rc"] == 3 and o["signal"] is None, o
    assert o["stdout"] == host + "\n" and o["stderr"] == "e\n" and o["error"] is None, o
    assert 0 < o["duration"] < 30, o
d = objs["dead01"]
assert d["outcome"] == "unreachable" and d["rc"] is None and d["error"], d
print("ok")
EOF
    run python3 "$MG_TMP/check.py" "$MG_STDOUT_FILE" "$(hostname)"
    assert "$output" == "ok" "the JSON objects (python3 says)"
}

# vim: filetype=sh
