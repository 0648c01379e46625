#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
#
# Output of many targets and what the exit status says about it: long
# lines kept whole (issue 13, item 4), write errors of --outdir, --failed
# and standard output counted (item 16); and --dry-run checking hop
# options as a run does (item 7). Targets are local and fork hops.

load helpers

# Each line of file $1 as "NAME LENGTH CHAR": the text before ': ' (- when
# none), the length of the text after it, and its one repeated byte (or
# "mixed"). Long lines are not printed whole when a test fails.
function line_shapes() {
    awk '{ p = index($0, ": "); name = p ? substr($0, 1, p - 1) : "-"; t = p ? substr($0, p + 2) : $0
           c = substr(t, 1, 1); g = t; gsub(c, "", g)
           print name, length(t), (g == "" ? c : "mixed") }' "$1" | sort
}

@test "a 200,000-byte line stays one line: prefixed, -N, with other targets printing" {
    # Each target prints a short line, a line of 200000 x's, a short line.
    local cmd='echo a; head -c 200000 /dev/zero | tr "\0" x; echo; echo b'

    run_mg bash -c "mitogen-run -w 'local,fork,local/fork' -- '$cmd' >$MG_TMP/out"
    run line_shapes "$MG_TMP/out"
    assert "$(tr '\n' ' ' <<<"$output")" == \
        "fork 1 a fork 1 b fork 200000 x local 1 a local 1 b local 200000 x local+fork 1 a local+fork 1 b local+fork 200000 x " \
        "one whole line per target, never cut in two"

    run_mg bash -c "mitogen-run -N -w 'local,fork' -- '$cmd' >$MG_TMP/out"
    run line_shapes "$MG_TMP/out"
    assert "$(tr '\n' ' ' <<<"$output")" == "- 1 a - 1 a - 1 b - 1 b - 200000 x - 200000 x " \
        "-N: the same, without prefix"
}

@test "a long stdout line and other targets' stderr lines in one file: all whole" {
    # Both streams to one file, as on a terminal: a long stdout line is
    # not broken by another target's stderr line.
    local cmd='head -c 150000 /dev/zero | tr "\0" y; sleep 0.5; echo; echo e >&2'

    run_mg bash -c "mitogen-run -w 'local,fork' -- '$cmd' >$MG_TMP/out 2>&1"
    run line_shapes "$MG_TMP/out"
    assert "$(tr '\n' ' ' <<<"$output")" == "fork 1 e fork 150000 y local 1 e local 150000 y " \
        "every line whole, whatever its stream"
}

@test "--outdir, --failed and standard output that cannot be written: exit 255" {
    mkdir -p "$MG_TMP/out/local.out"
    run_mg_sep 255 mitogen-run --outdir "$MG_TMP/out" -w local -- echo hi
    assert "$stderr" =~ "cannot write '.*/out/local.out'" "the --outdir error is said"
    assert "$output" == "local: hi" "the output is still printed"

    run_mg_sep 255 mitogen-run --failed "$MG_TMP/no/such/dir/failed" -w local -- true
    assert "$stderr" =~ "cannot write '.*/no/such/dir/failed'" "the --failed error is said"

    for mode in --json -b -N ''; do
        # shellcheck disable=SC2086 # $mode: one word or none
        run_mg_sep 0 bash -c "mitogen-run $mode -w local,fork -- echo hi >/dev/full; echo rc=\$?"
        assert "$output" == "rc=255" "mode '$mode': stdout on a full disk gives 255"
        assert "$stderr" =~ "cannot write to the output" "mode '$mode': and says so"
    done
}

# The --outdir stem of a target NAME longer than 251 bytes: its first
# 234 bytes, "~", then the FNV-1a 64-bit hash of the whole NAME in hex
# (mitogen-run(1), --outdir). ASCII names here: no character to keep whole.
function long_stem() {
    local name=$1 h=$((0xcbf29ce484222325)) b
    for b in $(printf '%s' "$name" | od -An -v -tu1); do
        h=$(((h ^ b) * 0x100000001b3))
    done
    printf '%s~%016x\n' "${name:0:234}" "$h"
}

@test "--outdir: a name too long for a file name is cut, with a hash of the whole that keeps it unique" {
    local a b x300 stem_a stem_b
    x300=$(printf 'x%.0s' {1..300})
    a="local?remote_name=${x300}a"
    b="local?remote_name=${x300}b"
    run_mg_sep mitogen-run --outdir "$MG_TMP/out" -w "$a,$b,local" -- echo hi
    stem_a=$(long_stem "${a/\?/%3F}")
    stem_b=$(long_stem "${b/\?/%3F}")
    assert "${#stem_a}" -eq 251 "the stem and .out fit in 255 bytes"
    assert "$stem_a" != "$stem_b" "names alike but for their end: two stems"
    assert "$(cat "$MG_TMP/out/$stem_a.rc")" == "0" "the first one's status"
    assert "$(cat "$MG_TMP/out/$stem_b.out")" == "hi" "the second one's output"
    [[ -e $MG_TMP/out/$stem_b.err ]] || die "no $stem_b.err"
    assert "$(cat "$MG_TMP/out/local.rc")" == "0" "a short name is kept as it is"
    assert "$(ls "$MG_TMP/out" | wc -l)" -eq 9 "three files per target"
    # The lines' prefixes are the whole names, as ever.
    assert "$output" =~ "${a/\?/%3F}: " "the prefix is the whole name"
}

@test "standard output closed by its reader: the commands' output is cut as a pipe's, the run ends, 255" {
    # As 'yes | head -1' here: the writers get EPIPE (SIGPIPE), where the
    # run went on forever, reading what it could not print.
    local tag=mgyes$RANDOM$RANDOM mode
    for mode in '' -N; do
        run_mg_sep 0 bash -c "timeout 20 mitogen-run $mode -w local,fork -- yes $tag | head -1; echo rc=\${PIPESTATUS[0]}"
        assert "${lines[-1]}" == "rc=255" "mode '$mode': the run ends, status 255"
        assert "$stderr" =~ "cannot write to the output" "mode '$mode': and says why"
        assert "$(pgrep -f -x "yes $tag")" == "" "mode '$mode': no yes is left"
    done
}

@test "--dry-run: connect_timeout is read as a run reads it, for every method" {
    run_mg mitogen-run --dry-run 'ssh:h?connect_timeout=0.5' true
    assert "$output" =~ "-o 'ConnectTimeout 1'" "ssh: a fraction, rounded up for ssh"
    run_mg mitogen-run --dry-run 'local?connect_timeout=0.5' true
    for t in 'ssh:h?connect_timeout=1e3' 'local?connect_timeout=1.2.3' 'fork?connect_timeout=0'; do
        run_mg_sep 2 mitogen-run --dry-run "$t" true
        assert "$stderr" =~ "option connect_timeout: expected seconds from 0.001 to 86400" "$t: refused as the chain is read"
    done
}

@test "a '/' in an option value: the error says to write %2F" {
    run_mg_sep 2 mitogen-run --dry-run 'docker:app?docker_path=/usr/bin/docker' true
    assert "$stderr" =~ "column 24: '/' in an option value must be written %2F" "where and what"
    assert "$stderr" =~ "docker_path=%2Fusr%2Fbin%2Fdocker" "the value as it must be written"
}

@test "-x: chains, bare host names and files of them leave targets out, among 100,000" {
    printf '%s\n' 'ssh:n7' '# a comment' 'n9' >"$MG_TMP/ex"
    run_mg mitogen-run --dry-run -w 'ssh:n[1-10],local,local/docker:n3' -x n2 -x n3 -x 'ssh:n4' \
        -x "^$MG_TMP/ex" -x local -x 'ssh:n[5-6]' true
    assert "$(cut -d: -f1-2 <<<"$output" | tr '\n' ' ')" == "ssh:n1 ssh:n8 ssh:n10 " \
        "exactly the targets not excluded, in order (n3 by name, at the end of any chain)"

    # Many on both sides: every second target left, in order, once.
    run_mg bash -c "mitogen-run --dry-run -w 'ssh:n[1-99990],ssh:n[99981-99990]' -x 'n[1-99988]' true | cut -d: -f1-2"
    assert "$(tr '\n' ' ' <<<"$output")" == "ssh:n99989 ssh:n99990 " "duplicates and exclusions among 100,000"
}

@test "fan-out window: 40 targets behind one gateway at -f 3, hops shared by waiters, each runs once" {
    # The docker stub boots the agent right here (tests/stubs).
    export PATH=$MG_SRC_DIR/tests/stubs:$PATH
    MG_TIMEOUT=60 run_mg_sep mitogen-run -f 3 -w 'local/docker:e[1-40]' -- echo hi
    assert "$(sort <<<"$output" | uniq -c | awk '$1 == 1' | wc -l)" -eq 40 "40 lines, one per target"
    assert "$(grep -c ': hi$' <<<"$output")" -eq 40 "each says hi"

    # With a window of one, several waiters want the same hop ('local',
    # then 'local/local'): it is made once, and a place it is given back
    # for is not lost (the run would hang).
    MG_TIMEOUT=20 run_mg_sep mitogen-run -f 1 -w 'local/local/fork,local/fork,local/local,local/local/local,fork' -- echo hi
    assert "$(sort <<<"$output" | tr '\n' ' ')" == \
        "fork: hi local+fork: hi local+local+fork: hi local+local+local: hi local+local: hi " "five targets"
}

@test "names of chains with options: clubak -b and dshbak -c keep every target" {
    skip_if_no_program clubak
    skip_if_no_program dshbak
    # clubak reads a name as a node set: '?' and '*' are wildcards, '&',
    # '!', '^' and ',' operators; a name with them lost its lines.
    run_mg bash -c "mitogen-run -w 'local,local?connect_timeout=5,local?connect_timeout=6&remote_name=x' -- echo hi | clubak -b"
    assert "${lines[1]}" =~ " \(3\)$" "clubak: three targets in one group (${lines[1]})"
    run_mg bash -c "mitogen-run -w 'local,local?connect_timeout=5,local?connect_timeout=6&remote_name=x' -- echo hi | dshbak -c"
    assert "$(grep -o , <<<"${lines[1]}" | wc -l)" -eq 2 "dshbak: three targets in one group (${lines[1]})"
}

# With 2>&1 every line is "tag: text", the summary of failures too
# ("mitogen-run: N of M failed: ..."), as pdsh's "pdsh@host: ..." lines:
# dshbak and clubak read it as the program's own node.
@test "a failure summary in 2>&1 is read by dshbak -c and clubak -b as mitogen-run's" {
    skip_if_no_program clubak
    skip_if_no_program dshbak
    run_mg bash -c "mitogen-run -w local -w 'ssh:127.0.0.1:1' -- echo hi 2>&1 | dshbak -c 2>&1"
    assert "$output" !~ "uninitialized" "dshbak read every line"
    assert "$output" =~ $'mitogen-run\n-+\n1 of 2 failed: ' "dshbak: the summary under mitogen-run"
    run_mg bash -c "mitogen-run -w local -w 'ssh:127.0.0.1:1' -- echo hi 2>&1 | clubak -b 2>&1"
    assert "$output" =~ $'mitogen-run\n-+\n 1 of 2 failed: ' "clubak: the summary under mitogen-run"
    assert "$output" !~ "of 2 failed \\(" "clubak: no node named after the summary"
}
