#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# The agent itself: a small static executable, not for running by hand,
# and one that leaves nothing on disk.

load helpers

function setup() {
    basic_setup
    export TMPDIR=$MG_TMP/tmpdir
    mkdir "$TMPDIR"
    AGENT=$MG_BUILD_DIR/cmd/mitogen-agent
}

# Skip unless the agent of this build is a static executable.
function skip_unless_static_agent() {
    skip_if_no_program file
    [[ -x $AGENT ]] || die "$AGENT is missing: build first"
    local what
    what=$(file -L "$AGENT")
    if [[ $what == *"dynamically linked"* ]]; then
        skip "the agent is dynamically linked: build configured with -Dstatic_agent=disabled (or a sanitizer build)"
    fi
}

@test "the agent is statically linked and at most 256 KiB" {
    skip_unless_static_agent
    local what size
    what=$(file -L "$AGENT")
    assert "$what" =~ "ELF" "file: an ELF executable"
    assert "$what" =~ "statically linked" "file: statically linked"
    size=$(stat -L -c %s "$AGENT")
    assert "$size" -le 262144 "agent size in bytes"
}

@test "running the agent by hand: exit 2 and a message" {
    [[ -x $AGENT ]] || die "$AGENT is missing: build first"

    run_mg_sep 2 "$AGENT" </dev/null
    assert "$output" == "" "no arguments: nothing on stdout (no boot marker)"
    assert "$stderr" =~ "^mitogen-agent: " "no arguments: a message naming the program"
    assert "$stderr" =~ "not meant to be run by hand" "no arguments: the message says why"

    local args
    for args in "--boot" "--help" "--boot a b" "--boot a 0022" "-x"; do
        # shellcheck disable=SC2086 # split on purpose
        run_mg_sep 2 "$AGENT" $args </dev/null
        assert "$output" == "" "$args: nothing on stdout"
        assert "$stderr" =~ "^mitogen-agent: " "$args: a message"
    done
    assert "$(command ls -A "$TMPDIR")" == "" "nothing in TMPDIR"
}

@test "no agent file on disk during or after a run" {
    # While the command runs, the image of every agent above it is already
    # unlinked: TMPDIR is empty and /proc/PID/exe says (deleted): the
    # pushed file, or the memfd the packed agent inflated itself into.
    run_mg_sep mitogen-run 'local?first_stage=1/local?first_stage=1' 'ls -A "$TMPDIR"; echo "--"
p=$PPID
while [ "$p" -gt 1 ]; do
    case $(cat /proc/$p/comm) in
    mitogen:*) readlink /proc/$p/exe | sed -e "s|^$TMPDIR/.mitogen-agent\.[0-9]*\.[0-9a-zA-Z]* (deleted)\$|deleted image|" \
                   -e "s|^/memfd:mitogen-agent (deleted)\$|deleted image|" ;;
    esac
    p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status)
done'
    assert "$output" == $'--\ndeleted image\ndeleted image' \
        "TMPDIR empty while running; both agents run from a deleted file in TMPDIR"
    assert "$stderr" == "" "nothing on stderr"
    assert "$(command ls -A "$TMPDIR")" == "" "nothing in TMPDIR after the run"

    # A failed command leaves nothing either.
    run_mg 127 mitogen-run --no-shell 'local?first_stage=1/local?first_stage=1' -- "nosuchcmd-$(safename)"
    assert "$(command ls -A "$TMPDIR")" == "" "nothing in TMPDIR after a failed command"
}

@test "local hops exec the agent in place, nothing copied" {
    # Without first_stage, a local hop runs the agent file itself (the
    # master's) or the agent's own image through /proc/self/fd.
    # With a packed agent (tools/pack-agent.py), the plain one beside it
    # (.raw) runs instead, so that no local hop pays for inflating; an
    # agent runs its own program again (/proc/self/exe).
    local want
    want=$(readlink -f "$MITOGEN_AGENT")
    [[ -f $MITOGEN_AGENT.raw ]] && want=$(readlink -f "$MITOGEN_AGENT.raw")
    run_mg_sep mitogen-run local/local 'p=$PPID; readlink /proc/$p/exe; ls -A "$TMPDIR"'
    assert "$output" == "$want" "the innermost agent runs the agent file; TMPDIR stays empty"
    # A one-hop chain of mitogen-run ends there: the exec-only agent
    # (docs/PROTOCOL.md 2.3.2), when the build has one.
    local leaf=$MITOGEN_AGENT
    [[ ! -f $MITOGEN_AGENT-lite ]] || leaf=$MITOGEN_AGENT-lite
    run_mg_sep mitogen-run local 'tr "\0" " " </proc/$PPID/cmdline'
    if [[ -f $leaf.raw ]]; then
        assert "$output" == "$leaf.raw --local 3 " "the plain agent, handed the packed image"
    else
        assert "$output" == "$leaf --local " "the agent file itself"
    fi
}

# Skip unless this build's agent is the packed, self-inflating one
# (tools/pack-agent.py writes the plain agent beside it as .raw).
function skip_unless_packed_agent() {
    skip_unless_static_agent
    [[ -f $AGENT.raw ]] || skip "the agent is not packed (MG_AGENT_PACK=0, or no stub for this machine)"
}

# An ssh stand-in, $MG_TMP/ssh-count, that keeps the remote command (the
# first stage, which names LEN: the bytes of the packed agent and the
# HELLO after it, which ride in the command itself for ssh) in
# ssh-count.cmd and runs it here. With "tee", what it gets on stdin goes
# to ssh-count.in as well (copied by python: its stdin shares the
# agent's non-blocking stdout, which tee does not survive).
function ssh_stand_in() {
    local run='exec /bin/sh -c "$last"'
    if [[ ${1:-} == tee ]]; then
        cat >"$MG_TMP/tee.py" <<'PY'
import os, select, sys
out = os.fdopen(3, "ab")
while True:
    select.select([0], [], [])
    try:
        d = os.read(0, 65536)
    except BlockingIOError:
        continue
    if not d:
        break
    out.write(d)
    out.flush()
    while d:
        d = d[os.write(1, d):]
PY
        # The file is opened for appending before python starts: a
        # python of the previous run, slow to start, that opened it now
        # would empty it after this run's frames were written.
        run=':>"$0.in"; python3 "${0%/*}/tee.py" 3>>"$0.in" | /bin/sh -c "$last"'
    fi
    printf '%s\n' '#!/bin/sh' 'for last; do :; done' \
        'printf "%s" "$last" >"$0.cmd"' "$run" >"$MG_TMP/ssh-count"
    chmod +x "$MG_TMP/ssh-count"
}

# The LEN the stand-in's first stage named.
function stand_in_pushed() {
    LC_ALL=C grep -ao ' mitogen-boot [0-9]* ' "$MG_TMP/ssh-count.cmd" | head -1 | cut -d' ' -f3
}

# The bytes of agent image the stand-in got on stdin: the LEN its first
# stage named, less the tail behind the image (HELLO and requests, their
# length in the first 4 of its last 8 bytes, big-endian, and those 8).
function stand_in_image() {
    local n flen
    n=$(stand_in_pushed)
    flen=$(head -c "$n" "$MG_TMP/ssh-count.in" | tail -c 8 | head -c 4 | od -An -tu1 |
        awk '{ print ((($1 * 256 + $2) * 256 + $3) * 256 + $4) }')
    echo $((n - flen - 8))
}

# The LEN a --dry-run line names.
function dry_len() {
    [[ $1 =~ \ mitogen-boot\ ([0-9]+)\  ]] || die "no LEN in: ${1:0:200}"
    echo "${BASH_REMATCH[1]}"
}

@test "--dry-run names the image a run pushes: the exec-only agent at a chain's end, the whole where a hop follows" {
    [[ -f $AGENT-lite ]] || skip "this build has no exec-only agent"
    skip_if_no_program python3
    ssh_stand_in tee
    # The image on stdin, as --dry-run shows the first stage: the run's
    # command is then the dry run's, but for LEN (which adds the HELLO).
    local hop="ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count&image_in_command=no" dry lite
    run_mg_sep mitogen-run --dry-run "$hop" -- echo ran
    assert "$stderr" == "" "--dry-run: nothing on stderr"
    dry=$(dry_len "${lines[0]}")
    run_mg_sep mitogen-run "$hop" -- echo ran
    assert "$output" == "ran" "the command ran"
    assert "$(stand_in_image)" -eq "$dry" "the run pushed the image --dry-run named ($dry bytes)"
    assert "$dry" -eq "$(stat -L -c %s "$(pushed_agent)")" "the leaf agent (PROTOCOL 2.3.4), or the exec-only one"
    lite=$dry
    # A terminal, or a pushed program: the exec-only agent, not the leaf.
    run_mg_sep mitogen-run -T --dry-run "$hop" -- echo ran
    assert "$(dry_len "${lines[0]}")" -eq "$(stat -L -c %s "$AGENT-lite")" "-T: the exec-only agent"
    run_mg_sep mitogen-exec --dry-run "$hop" -- /bin/true
    assert "$(dry_len "${lines[0]}")" -eq "$(stat -L -c %s "$AGENT-lite")" "mitogen-exec: the exec-only agent"
    if [[ -f $AGENT-leaf ]]; then
        assert "$lite" -lt "$(stat -L -c %s "$AGENT-lite")" "the leaf agent is the smaller"
        # MITOGEN_AGENT_LEAF set but empty: never the leaf; a run then
        # pushes the exec-only agent, as its --dry-run says.
        MITOGEN_AGENT_LEAF= run_mg_sep mitogen-run --dry-run "$hop" -- echo ran
        dry=$(dry_len "${lines[0]}")
        assert "$dry" -eq "$(stat -L -c %s "$AGENT-lite")" "MITOGEN_AGENT_LEAF=: the exec-only agent"
        MITOGEN_AGENT_LEAF= run_mg_sep mitogen-run "$hop" -- echo ran
        assert "$(stand_in_image)" -eq "$dry" "MITOGEN_AGENT_LEAF=: the run pushed it ($dry bytes)"
    fi

    # Another chain goes through the hop: the whole agent, for both.
    run_mg_sep mitogen-run --dry-run -w "$hop" -w "$hop/local" -- echo ran
    assert "${#lines[@]}" -eq 3 "the hop for each chain, then local"
    dry=$(dry_len "${lines[0]}")
    assert "$(dry_len "${lines[1]}")" -eq "$dry" "the same hop, the same image"
    run_mg_sep mitogen-run -w "$hop" -w "$hop/local" -- echo ran
    assert "${#lines[@]}" -eq 2 "both chains ran"
    assert "$(stand_in_image)" -eq "$dry" "the run pushed the image --dry-run named ($dry bytes)"
    assert "$dry" -gt "$lite" "the whole agent"

    # A copy needs the file service: mitogen-cp shows the whole agent.
    run_mg_sep mitogen-cp --dry-run "$MG_TMP/src" "$hop:$MG_TMP/dst"
    assert "$(dry_len "${lines[0]}")" -eq "$dry" "mitogen-cp --dry-run: the whole agent"

    # --persist: the holder connects hops for any later command, whole.
    # A short idle limit: a holder left by a failure goes by itself.
    export XDG_RUNTIME_DIR=$MG_TMP/xdg
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    run_mg_sep mitogen-run --persist=5s --dry-run "$hop" -- echo ran
    assert "$(dry_len "${lines[0]}")" -eq "$dry" "--persist --dry-run: the whole agent"
    assert "$(mitogen-run --persist-list 2>&1)" =~ "no holder running" "--dry-run started no holder"
    run_mg_sep mitogen-run --persist=5s "$hop" -- echo ran
    assert "$output" == "ran" "--persist: the command ran"
    assert "$(stand_in_image)" -eq "$dry" "--persist: the holder pushed the image --dry-run named"
    run_mg_sep mitogen-run --persist-stop
}

@test "a first hop receives the packed agent: at most 96 KiB, first stage and requests included" {
    skip_unless_packed_agent
    ssh_stand_in tee
    # The whole agent, as a hop with hops after it gets (a chain's end
    # alone gets the exec-only one, smaller: the test above).
    export MITOGEN_AGENT_LITE=
    run_mg_sep mitogen-run "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- echo ran
    assert "$output" == "ran" "the command ran through the packed agent"
    local pushed cmd raw in
    pushed=$(stand_in_pushed)
    cmd=$(wc -c <"$MG_TMP/ssh-count.cmd")
    in=$(wc -c <"$MG_TMP/ssh-count.in")
    raw=$(stat -L -c %s "$AGENT.raw")
    assert "$pushed" -gt 0 "the first stage names the bytes pushed"
    # Issue 11: the packed image and the HELLO (and, on stdin, requests)
    # after it within 96 KiB. The agent grows with every feature: see
    # tools/build-agent.sh for where its bytes go before raising this.
    assert "$pushed" -le 98304 "packed image and HELLO ($pushed) vs 96 KiB (plain agent: $raw)"
    # For ssh they ride in the command, escaped for printf %b, to save
    # the round trip stdin would wait for. The payload is masked so that
    # it needs next to no escapes (tools/pack-agent.py mask; without it
    # one byte in 40 would take 4 or 5): at most 2% more on the wire,
    # first stage included.
    assert "$cmd" -le "$((pushed * 102 / 100 + 1024))" \
        "the command ($cmd bytes) carries the image ($pushed bytes) and little more"
    # All that crosses the link before the agent runs, in both forms:
    # the command (first stage, image, HELLO, requests) and stdin.
    assert "$((cmd + in))" -le 98304 \
        "image in the command: $cmd bytes of command + $in on stdin vs 96 KiB"
    run_mg_sep mitogen-run "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count&image_in_command=no" -- echo ran
    assert "$output" == "ran" "image_in_command=no: the command ran"
    cmd=$(wc -c <"$MG_TMP/ssh-count.cmd")
    in=$(wc -c <"$MG_TMP/ssh-count.in")
    assert "$in" -ge "$(stand_in_pushed)" "image_in_command=no: the image went on stdin ($in bytes)"
    assert "$((cmd + in))" -le 98304 \
        "image on stdin: $cmd bytes of first stage + $in on stdin vs 96 KiB"
}

@test "ssh: the image rides in the command, only requests follow on stdin" {
    skip_unless_static_agent
    ssh_stand_in tee
    run_mg_sep mitogen-run "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- echo ran
    assert "$output" == "ran" "the command ran"
    local pushed cmd in
    pushed=$(stand_in_pushed)
    cmd=$(wc -c <"$MG_TMP/ssh-count.cmd")
    in=$(wc -c <"$MG_TMP/ssh-count.in")
    assert "$cmd" -gt "$pushed" "the command ($cmd bytes) holds the image and HELLO ($pushed bytes)"
    # sshd opens the channel's window for stdin only once the command
    # runs: an image sent there would wait a round trip for it.
    assert "$in" -lt 4096 "stdin got frames only ($in bytes), not the image"

    # The request rides in the command too, unless it holds a secret
    # (an environment): the far host's process list shows the command.
    local word=mg-word-$$ secret=mg-secret-$RANDOM$RANDOM
    run_mg_sep mitogen-run "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- echo "$word"
    assert "$output" == "$word" "the command ran"
    assert "$(LC_ALL=C grep -ac -- "$word" "$MG_TMP/ssh-count.cmd")" == "1" "its EXEC rode in the command"
    run_mg_sep mitogen-run -e "MGV=$secret" "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- \
        sh -c 'echo "$MGV"'
    assert "$output" == "$secret" "the command ran with its environment"
    assert "$(LC_ALL=C grep -ac -- "$secret" "$MG_TMP/ssh-count.cmd")" == "0" "an EXEC with an environment: not in the command"
    assert "$(LC_ALL=C grep -ac -- "$secret" "$MG_TMP/ssh-count.in")" == "1" "but on stdin"

    # image_in_command=no: on stdin, as for the other methods.
    run_mg_sep mitogen-run "ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count&image_in_command=no" -- echo ran
    assert "$output" == "ran" "image_in_command=no: the command ran"
    pushed=$(stand_in_pushed)
    cmd=$(wc -c <"$MG_TMP/ssh-count.cmd")
    in=$(wc -c <"$MG_TMP/ssh-count.in")
    assert "$cmd" -lt 4096 "image_in_command=no: the command is the first stage alone ($cmd bytes)"
    assert "$in" -ge "$pushed" "image_in_command=no: stdin got the image ($in of $pushed bytes)"
    run_mg_sep 2 mitogen-run --dry-run "ssh:x?image_in_command=maybe" -- echo ran
    assert "$stderr" =~ "image_in_command" "a bad value is refused as the chain is read, named"
}

@test "a one-hop chain's end gets the exec-only agent; a hop another chain goes through, the whole one" {
    [[ -f $AGENT-lite ]] || skip "this build has no exec-only agent"
    ssh_stand_in
    local hop="ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" full lite pushed
    full=$(stat -L -c %s "$AGENT")
    lite=$(stat -L -c %s "$(pushed_agent)")
    # docs/PROTOCOL.md 2.3.2: a hop that only runs a command needs no
    # CONNECT, call or file service; the build leaves them out (and the
    # leaf agent, 2.3.4, all but a plain command).
    assert "$lite" -lt "$((full * 3 / 4))" "the exec-only agent ($lite bytes) is much smaller than the whole ($full)"
    run_mg_sep mitogen-run "$hop" -- echo ran
    assert "$output" == "ran" "the command ran on the exec-only agent"
    pushed=$(stand_in_pushed)
    assert "$pushed" -gt "$((lite + 36))" "the exec-only image and HELLO pushed ($pushed bytes)"
    assert "$pushed" -lt "$((lite + 4096))" "the exec-only image, not the whole ($full), pushed ($pushed)"

    # The same hop as another chain's first: the whole agent, for both.
    run_mg_sep mitogen-run -w "$hop" -w "$hop/local" -- echo ran
    # (in the order the two ended)
    assert "${#lines[@]}" -eq 2 "two lines, one per chain"
    assert "$(printf '%s\n' "${lines[@]}" | grep -c -e '-count: ran$')" -eq 1 "the first chain ran"
    assert "$(printf '%s\n' "${lines[@]}" | grep -c -e '-count+local: ran$')" -eq 1 "the chain through it ran"
    pushed=$(stand_in_pushed)
    assert "$pushed" -gt "$((full + 36))" "a hop with a hop after it gets the whole agent ($pushed bytes)"
    assert "$pushed" -lt "$((full + 4096))" "the whole image and HELLO ($pushed bytes)"

    # Set but empty: never.
    MITOGEN_AGENT_LITE= run_mg_sep mitogen-run "$hop" -- echo ran
    assert "$output" == "ran" "MITOGEN_AGENT_LITE=: the command ran"
    pushed=$(stand_in_pushed)
    assert "$pushed" -gt "$((full + 36))" "MITOGEN_AGENT_LITE=: the whole agent ($pushed bytes)"

    # Named but unreadable: said once, and the whole agent goes.
    MITOGEN_AGENT_LITE=$MG_TMP/no-such-agent run_mg_sep mitogen-run "$hop" -- echo ran
    assert "$output" == "ran" "a missing MITOGEN_AGENT_LITE: the command ran"
    assert "$stderr" =~ "cannot read the exec-only agent $MG_TMP/no-such-agent \(from MITOGEN_AGENT_LITE\): No such file or directory; pushing the whole agent" \
        "a missing MITOGEN_AGENT_LITE: said"
    assert "${#stderr_lines[@]}" -eq 1 "said once"
    pushed=$(stand_in_pushed)
    assert "$pushed" -gt "$((full + 36))" "a missing MITOGEN_AGENT_LITE: the whole agent ($pushed bytes)"
    if [[ -f $AGENT-leaf ]]; then
        MITOGEN_AGENT_LEAF=$MG_TMP/no-such-agent run_mg_sep mitogen-run "$hop" -- echo ran
        assert "$output" == "ran" "a missing MITOGEN_AGENT_LEAF: the command ran"
        assert "$stderr" =~ "cannot read the leaf agent $MG_TMP/no-such-agent \(from MITOGEN_AGENT_LEAF\): No such file or directory; pushing the exec-only agent" \
            "a missing MITOGEN_AGENT_LEAF: said"
        pushed=$(stand_in_pushed)
        assert "$pushed" -gt "$(stat -L -c %s "$AGENT-lite")" "a missing MITOGEN_AGENT_LEAF: the exec-only agent ($pushed bytes)"
    fi

    # A copy needs the file service: mitogen-cp pushes the whole agent.
    echo data >"$MG_TMP/src"
    run_mg_sep mitogen-cp "$MG_TMP/src" "$hop:$MG_TMP/dst"
    assert "$(cat "$MG_TMP/dst")" == "data" "the copy landed"
    pushed=$(stand_in_pushed)
    assert "$pushed" -gt "$((full + 36))" "mitogen-cp: the whole agent ($pushed bytes)"
}

@test "an unpacked local agent still pushes the packed image to the next hop" {
    skip_unless_packed_agent
    ssh_stand_in
    run_mg_sep mitogen-run "local/local/ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- echo ran
    assert "$output" == "ran" "the command ran behind two plain local agents"
    local pushed raw packed
    pushed=$(stand_in_pushed)
    raw=$(stat -L -c %s "$AGENT.raw")
    packed=$(stat -L -c %s "$AGENT")
    assert "$pushed" -gt 0 "the first stage names the bytes pushed"
    # The packed image and HELLO, not the plain agent (the two differ by
    # some 80 KB; HELLO is well under 4 KiB).
    assert "$pushed" -lt "$((packed + 4096))" "the packed image ($packed bytes) pushed ($pushed), not the plain agent ($raw)"
    assert "$pushed" -lt "$raw" "less than the plain agent ($raw bytes) pushed ($pushed)"
}

@test "a sudo hop runs the agent unpacked and still pushes the packed image on" {
    skip_unless_packed_agent
    skip_if_not_root "sudo to root without a password needs root"
    skip_if_no_program sudo
    # A packed agent inflates itself into a memfd at every start (~5 ms
    # of CPU). A hop on this host (sudo, doas) gets the plain agent in
    # front of the packed image and runs it from the first stage's file;
    # the second sudo gets it from the first sudo's agent.
    run_mg_sep mitogen-run sudo/sudo 'readlink /proc/$PPID/exe'
    assert "$output" =~ "/\.mitogen-agent\.[0-9]+\.[0-9a-f]+ \(deleted\)$" \
        "the agent runs from its pushed file, not from an inflated memfd"
    assert "$stderr" == "" "nothing on stderr"
    # What follows crosses a link again: the packed image, not the plain.
    ssh_stand_in
    run_mg_sep mitogen-run "sudo/sudo/ssh:x?ssh_path=${MG_TMP//\//%2F}%2Fssh-count" -- echo ran
    assert "$output" == "ran" "the command ran behind two sudo agents"
    local pushed packed
    pushed=$(stand_in_pushed)
    packed=$(stat -L -c %s "$AGENT")
    assert "$pushed" -gt 0 "the first stage names the bytes pushed"
    assert "$pushed" -lt "$((packed + 4096))" "the packed image ($packed bytes) pushed on ($pushed)"
}

@test "a corrupt packed agent fails cleanly, naming the hop" {
    skip_unless_packed_agent
    local size bad=$MG_TMP/agent-bad
    cp "$AGENT" "$bad"
    size=$(stat -c %s "$bad")
    # One byte in the middle of the compressed agent, past the stub.
    printf '\125' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
    if cmp -s "$AGENT" "$bad"; then
        printf '\252' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
    fi
    MITOGEN_AGENT=$bad run_mg_sep 255 mitogen-run 'local?first_stage=1' -- echo ran
    assert "$output" == "" "nothing ran"
    assert "$stderr" =~ "local\?first_stage=1: hop exited with status 1 before the agent was up" "the hop is named"
    assert "$stderr" =~ "mitogen-agent: the agent image is corrupt" "and why"
    assert "$(command ls -A "$TMPDIR")" == "" "nothing left in TMPDIR"

    # Run in place (a local hop without the first stage) it fails alike.
    MITOGEN_AGENT=$bad run_mg_sep 255 mitogen-run local -- echo ran
    assert "$stderr" =~ "mitogen-agent: the agent image is corrupt" "in place: why"
}

@test "a hop whose file size limit is below the agent image: 255 at once, saying why, nothing left" {
    # The hop's shell (through a docker stand-in) runs under ulimit -f
    # 4 KiB, below any agent image: head is killed by SIGXFSZ, or, with
    # SIGXFSZ ignored, fails with EFBIG. Well below it, so that the head
    # that fails has not read all the image (PROTOCOL 2.1, step 4). The first stage used to retry it
    # as it does EAGAIN, until "connect timed out".
    local wrap=$MG_TMP/limited-docker ign env re
    local -a envs=("MITOGEN_AGENT=$AGENT")
    # The packed agent gets the guarded image's first stage, the plain
    # one (no lite agent: pushed whole) the first stage that counts.
    [[ ! -x $AGENT.raw ]] || envs+=("MITOGEN_AGENT=$AGENT.raw MITOGEN_AGENT_LITE=")
    re="mitogen: cannot write the agent image to $TMPDIR/\.mitogen-agent\.[0-9]+\.[0-9a-f]+"
    for env in "${envs[@]}"; do
        for ign in "" "trap '' XFSZ"; do
            printf '#!/bin/bash\n%s\nulimit -f 4 || exit 9\nexec "%s" "$@"\n' \
                "$ign" "$MG_SRC_DIR/tests/stubs/docker" >"$wrap"
            chmod +x "$wrap"
            # shellcheck disable=SC2086 # split on purpose
            run_mg_sep 255 env $env mitogen-run -t 10 "docker:app?docker_path=${wrap//\//%2F}" -- echo ran
            assert "$output" == "" "$env ${ign:-SIGXFSZ}: nothing ran"
            assert "$stderr" =~ "docker:app.*: hop exited with status 1 before the agent was up" \
                "$env ${ign:-SIGXFSZ}: the hop failed at once"
            if [[ -z $ign ]]; then
                assert "$stderr" =~ "$re \(head: status 153\)" "$env: head killed by SIGXFSZ, said"
            else
                assert "$stderr" =~ "$re \(head: .*File too large\)" "$env $ign: head's EFBIG, said"
            fi
            assert "$(command ls -A "$TMPDIR")" == "" "$env ${ign:-SIGXFSZ}: nothing left in TMPDIR"
        done
    done
}

@test "a hop whose temporary directory is full: 255 at once, saying why" {
    skip_if_not_root
    skip_if_no_program unshare
    # TMPDIR a 4 KiB tmpfs: head fails with ENOSPC, no EAGAIN either
    # (and has not read all of the smallest image then).
    mkdir "$MG_TMP/small"
    run_mg_sep 255 unshare -m sh -c 'mount -t tmpfs -o size=4k tmpfs "$1" || exit 9
        TMPDIR=$1 exec mitogen-run -t 10 "local?first_stage=1" -- echo ran' x "$MG_TMP/small"
    assert "$stderr" =~ "local\?first_stage=1: hop exited with status 1 before the agent was up" \
        "the hop failed at once"
    assert "$stderr" =~ "mitogen: cannot write the agent image to $MG_TMP/small/\.mitogen-agent\.[0-9]+\.[0-9a-f]+ \(head: .*No space left on device\)" \
        "head's ENOSPC, said"
}

@test "temporary directories mounted noexec: the next one, then HOME; none: 255, saying why" {
    skip_if_not_root
    skip_if_no_program unshare
    case $(command -v mitogen-run) in
    /tmp/* | /var/tmp/* | /dev/shm/*) skip "mitogen-run is under a directory this test mounts noexec" ;;
    esac
    # Hardened hosts mount /tmp, /var/tmp and /dev/shm noexec: the file
    # is made there, its exec fails. The first stage tries the next
    # directory (test -x sees noexec), HOME last, and removes each file
    # it gave up. $1: TMPDIR, $2: HOME, $3: "all" (/tmp, /var/tmp and
    # /dev/shm noexec too), $4: "nx" (HOME noexec too). /tmp keeps its
    # files (a noexec bind of itself, made first: it hides the mounts
    # below it); the others are new tmpfs, listed after the run.
    # shellcheck disable=SC2016 # for the inner sh
    local inner='if [ "$3" = all ]; then
            mount --bind /tmp /tmp && mount -o remount,bind,noexec /tmp || exit 9
            for d in /var/tmp /dev/shm; do mount -t tmpfs -o noexec,size=4m tmpfs "$d" || exit 9; done
        fi
        mount -t tmpfs -o noexec,size=4m tmpfs "$1" || exit 9
        mount -t tmpfs -o "${4:+noexec,}size=4m" tmpfs "$2" || exit 9
        HOME=$2 TMPDIR=$1 mitogen-run -t 20 "local?first_stage=1" -- echo ran; rc=$?
        ls -A "$1" "$2"; [ "$3" = one ] || ls -A /var/tmp /dev/shm; exit $rc'
    # ls sorts its directories: each empty.
    local ours fresh
    ours=$(printf '%s:\n\n%s:' "$MG_TMP/home" "$MG_TMP/nx")
    fresh=$(printf '%s\n/dev/shm:\n\n/var/tmp:' "$ours")
    mkdir "$MG_TMP/nx" "$MG_TMP/home"
    run_mg_sep unshare -m sh -c "$inner" x "$MG_TMP/nx" "$MG_TMP/home" one ""
    assert "$output" == "ran"$'\n'"$ours" "TMPDIR noexec: ran from /tmp, nothing left in TMPDIR"
    run_mg_sep unshare -m sh -c "$inner" x "$MG_TMP/nx" "$MG_TMP/home" all ""
    assert "$output" == "ran"$'\n'"$fresh" "all four noexec: ran from HOME, nothing left anywhere"
    run_mg_sep 255 unshare -m sh -c "$inner" x "$MG_TMP/nx" "$MG_TMP/home" all nx
    assert "$stderr" =~ "mitogen: no writable temporary directory where programs may run" "none: said"
    assert "$output" == "$fresh" "none: nothing left anywhere"
}

# The agents a plain command may run on, as env(1) words: the leaf
# (where this build has one, PROTOCOL 2.3.4) and the exec-only agent
# (MITOGEN_AGENT_LEAF set but empty), for tests that both must pass.
function leaf_and_lite() {
    [[ ! -f $AGENT-leaf ]] || echo "MG_AGENT_UNDER_TEST=leaf"
    echo "MITOGEN_AGENT_LEAF="
}

# The agent under 'local?first_stage=1' with env(1) words $1: the size of
# its image, checked against the leaf's where $1 does not rule it out.
function check_first_stage_agent() {
    local size
    size=$(env "$1" mitogen-run 'local?first_stage=1' -- sh -c 'stat -L -c %s /proc/$PPID/exe')
    if [[ $1 != MITOGEN_AGENT_LEAF= && -f $AGENT-leaf.raw ]]; then
        assert "$size" -eq "$(stat -c %s "$AGENT-leaf.raw")" "$1: the leaf agent runs it"
    fi
}

# More hops starting than CPUs (pinned to one, the second is already a
# fan-out): the leaf agent goes unpacked in place of its packed image
# (PROTOCOL 2.2), and runs from the first stage's file, which holds it and
# its tail; the first hop, with a CPU to spare, gets the packed one, whose
# stub runs the leaf from a memfd of exactly the leaf's size.
@test "a fan-out gets the leaf agent unpacked: it runs, and leaves no file behind" {
    skip_if_no_program taskset
    [[ -f $AGENT-leaf.raw ]] || skip "no packed leaf agent in this build"
    local cpu raw hops=() i sizes
    cpu=$(first_cpu)
    raw=$(stat -c %s "$AGENT-leaf.raw")
    for i in 1 2 3; do
        hops+=("local?first_stage=1&connect_timeout=3$i")
    done
    mkdir "$MG_TMP/tmp"
    TMPDIR=$MG_TMP/tmp run_mg_sep taskset -c "$cpu" mitogen-run -vv -w "$(IFS=,; echo "${hops[*]}")" \
        -- sh -c 'stat -L -c %s /proc/$PPID/exe'
    assert "$(grep -c "the agent unpacked ($raw bytes) goes in place of the packed image" <<<"$stderr")" == "2" \
        "the two hops past the CPU's one got it unpacked"
    sizes=$(sed 's/.*: //' <<<"$output" | LC_ALL=C sort -n)
    assert "$(head -n 1 <<<"$sizes")" == "$raw" "the first ran the packed leaf, from its stub's memfd"
    assert "$(sed -n 2,3p <<<"$sizes" | awk -v r="$raw" '$1 > r' | wc -l)" == "2" \
        "two ran from their own file: the leaf unpacked, then its tail"
    assert "$(find "$MG_TMP/tmp" -mindepth 1 | wc -l)" == "0" "no file left behind"
    # Not the exec-only agent (mitogen-exec pushes a program): unpacked,
    # it would be 36 KB more on the link, not 6.
    [[ -f $AGENT-lite.raw ]] || return 0
    printf '#!/bin/sh\necho "ran $#"\n' >"$MG_TMP/prog"
    chmod +x "$MG_TMP/prog"
    TMPDIR=$MG_TMP/tmp run_mg_sep taskset -c "$cpu" mitogen-exec -vv -w "$(IFS=,; echo "${hops[*]}")" \
        "$MG_TMP/prog" a b
    assert "$(grep -c "the agent unpacked" <<<"$stderr")" == "0" \
        "mitogen-exec: the exec-only agent goes packed"
    assert "$(sed 's/.*: //' <<<"$output")" == "$(printf 'ran 2\nran 2\nran 2')" "mitogen-exec: all three ran it"
    assert "$(find "$MG_TMP/tmp" -mindepth 1 | wc -l)" == "0" "mitogen-exec: no file left behind"
}

@test "leaf and exec-only agents: a command is looked up in the agent's PATH, not in the one -e gives it" {
    # PROTOCOL 5.3: argv[0] is looked up in the agent's PATH; -e PATH=
    # is the command's own. The leaf looked in the request's.
    local hop='local?first_stage=1' env
    mkdir "$MG_TMP/bin"
    printf '#!/bin/sh\necho "tool $PATH"\n' >"$MG_TMP/bin/mg-tool"
    printf 'echo "plain $0"\n' >"$MG_TMP/bin/mg-plain"
    chmod +x "$MG_TMP/bin/mg-tool" "$MG_TMP/bin/mg-plain"
    while read -r env; do
        check_first_stage_agent "$env"
        run_mg_sep env "$env" PATH="$MG_TMP/bin:$PATH" mitogen-run -e PATH=/nonexistent "$hop" -- mg-tool x
        assert "$output" == "tool /nonexistent" "$env: found in the agent's PATH, run with the command's"
        run_mg_sep env "$env" PATH="$MG_TMP/bin:$PATH" mitogen-run -e PATH=/nonexistent "$hop" -- mg-plain x
        assert "$output" == "plain $MG_TMP/bin/mg-plain" "$env: no #!: /bin/sh runs the file the agent's PATH found"
        run_mg_sep 127 env "$env" mitogen-run -e PATH="$MG_TMP/bin" "$hop" -- mg-tool x
        assert "$stderr" =~ "mg-tool: command not found" "$env: not found in the agent's PATH"
        run_mg_sep env "$env" mitogen-run -e PATH= "$hop" -- sh -c 'echo "[$PATH]"'
        assert "$output" == "[]" "$env: an empty PATH for the command, sh still found"
    done < <(leaf_and_lite)
}

@test "leaf and exec-only agents: the login shell from a large /etc/passwd, whole" {
    skip_if_not_root
    skip_if_no_program unshare
    # An /etc/passwd of more than 64 KiB (the leaf reads that much),
    # root's entry cut at 64 KiB inside its shell: the leaf took
    # "/bin/ba" for the shell, not listed, and ran /bin/sh. An entry past
    # what it reads is $SHELL's, which sshd, su and sudo set from it.
    local fake=$MG_TMP/passwd env line
    awk 'BEGIN { while (n < 65536 - 200) {
        l = sprintf("mgpad%05d:x:%d:%d::/nonexistent:/bin/sh", i, 30000 + i, 30000 + i)
        print l; n += length(l) + 1; i++ } }' >"$fake"
    line="root:x:0:0:$(printf '%*s' $((65535 - $(stat -c %s "$fake") - 25)) '' | tr ' ' r):/root:/bin/bash"
    printf '%s\n' "$line" >>"$fake"
    assert "$(head -c 65535 "$fake" | tail -c 7)" == "/bin/ba" "the cut is in root's shell"
    while read -r env; do
        run_mg_sep env "$env" unshare -m sh -c 'mount --bind "$1" /etc/passwd || exit 9
            SHELL=/bin/bash exec mitogen-run "local?first_stage=1" -- "echo \$0"' x "$fake"
        assert "$output" == "bash" "$env: root's login shell, /bin/bash"
    done < <(leaf_and_lite)
}

# The first stage with a non-blocking stdin is tested in tests/unit/test-boot.c.

# vim: filetype=sh

@test "no descriptor of the caller's beyond its stdio reaches the command, through any agent" {
    # A shell's open descriptors (not close-on-exec) went through a local
    # hop's agent to the command, which ssh or sudo would never pass on.
    local chain out
    for chain in local local/local 'local?first_stage=1'; do
        out=$(MITOGEN_AGENT_LEAF= mitogen-run "$chain" 'ls /proc/self/fd | tr "\n" " "' \
            10</etc/hostname 251</etc/passwd)
        assert "$out" == "0 1 2 3 " "$chain, exec-only or whole agent: only the command's stdio and ls's own"
    done
    out=$(mitogen-run 'local?first_stage=1' 'ls /proc/self/fd | tr "\n" " "' \
        10</etc/hostname 251</etc/passwd)
    assert "$out" == "0 1 2 3 " "the leaf agent where the build has one: the same"
}
