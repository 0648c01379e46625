#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# mitogen-exec: a local program pushed down the chain and run from memory.

load helpers

function setup_file() {
    # A small C program that says where it runs from and as whom.
    local d=$BATS_FILE_TMPDIR
    cat >"$d/probe.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char exe[512] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) exe[n] = 0;
	printf("exe=%s uid=%d args=%d", exe, (int)getuid(), argc - 1);
	for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
	printf("\n");
	return 3;
}
C
    if command -v cc >/dev/null; then
        cc -o "$d/probe" "$d/probe.c"
    fi
}

function setup() {
    basic_setup
    WRITER=
    PROBE=$BATS_FILE_TMPDIR/probe
    [[ -x $PROBE ]] || skip "needs a C compiler to build the test program"
}

function teardown() {
    if [[ -n $WRITER ]]; then
        touch "$MG_TMP/stop"
        kill "$WRITER" 2>/dev/null || true
    fi
    basic_teardown
}

@test "the program runs from a memfd, with its arguments and exit status" {
    run_mg 3 mitogen-exec local/local -- "$PROBE" 'a b' "\$(x)" ''
    assert "$output" == "exe=/memfd:mitogen-exec (deleted) uid=$(id -u) args=3 [a b] [\$(x)] []" \
        "from memory, argv exact"
    assert "$(command ls -A "$TMPDIR")" == "" "nothing written to TMPDIR"
}

@test "a tree of targets: the program travels once per link" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder logs the hops (-vv)"
    run_mg_sep 3 mitogen-exec -vv -w 'local/local,local/fork,local/local/local' -- "$PROBE" x
    assert "${#lines[@]}" -eq 3 "three targets answered"
    # Each agent that runs it, or passes it on, fetched it exactly once:
    # local (1), local/local (2), local/fork (3), local/local/local (4).
    local got
    got=$(grep -c 'program 1 here' <<<"$stderr")
    assert "$got" -eq 4 "one fetch per link: $stderr"
}

@test "a #! script, with -e and -C" {
    printf '#!/bin/sh\necho "script $1 E=$E in $(pwd)"\n' >"$MG_TMP/s.sh"
    run_mg mitogen-exec -e E=42 -C / local -- "$MG_TMP/s.sh" arg
    assert "$output" == "script arg E=42 in /" "the script ran with its interpreter"
}

@test "through sudo: the program runs as the hop's user" {
    skip_if_not_root
    run_mg 3 mitogen-exec local/sudo:nobody -- "$PROBE"
    assert "$output" =~ "^exe=/memfd:mitogen-exec \\(deleted\\) uid=65534 " "as nobody, from memory"
}

@test "where memfd may not run: a private temp file, unlinked, never on a noexec mount" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held agent runs outside this test's namespace"
    skip_if_not_root
    if ! command -v unshare >/dev/null || [[ ! -e /proc/sys/vm/memfd_noexec ]]; then
        skip "needs unshare and a kernel with vm.memfd_noexec (6.3+)"
    fi
    local noexec=$MG_TMP/noexec
    mkdir -p "$noexec"
    mount -t tmpfs -o noexec,size=16m tmpfs "$noexec"
    # memfd_noexec is per pid namespace: 2 forbids executable memfds there.
    run_mg 3 unshare -fp --mount-proc sh -c \
        'echo 2 >/proc/sys/vm/memfd_noexec && TMPDIR=$1 exec mitogen-exec local -- "$2"' x "$noexec" "$PROBE"
    umount "$noexec"
    assert "$output" =~ "^exe=/(tmp|var/tmp|dev/shm)/\\.mitogen-exec\\.[^ ]+ \\(deleted\\) " \
        "ran from an unlinked temp file, not from the noexec TMPDIR"
}

@test "a far end that cannot store the program: 255 with the reason, not the shell's 126" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held agent runs outside this test's namespace"
    skip_if_not_root
    if ! command -v unshare >/dev/null || [[ ! -e /proc/sys/vm/memfd_noexec ]]; then
        skip "needs unshare and a kernel with vm.memfd_noexec (6.3+)"
    fi
    # In a private pid and mount namespace: no executable memfd
    # (memfd_noexec=2) and every temporary directory noexec (bound over
    # itself), but for this build, which may be under one of them (CI's
    # checkout in /tmp: mitogen-exec could not run, 126), then "$@".
    local nowhere='
        echo 2 >/proc/sys/vm/memfd_noexec || exit 9
        for d in /tmp /var/tmp /dev/shm; do
            [ -d "$d" ] || continue
            mount --bind "$d" "$d" && mount -o remount,bind,noexec "$d" || exit 9
        done
        mount --bind "$0" "$0" && mount -o remount,bind,exec "$0" || exit 9'
    # Nowhere to keep the program: our transfer failed (255), as when it
    # cannot be sent; 126 is for a program there that cannot run.
    run_mg_sep 255 unshare -fp --mount-proc sh -c "$nowhere"'
        TMPDIR=/tmp exec mitogen-exec local -- "$1"' "$MG_BUILD_DIR" "$PROBE"
    assert "$stderr" =~ "$PROBE: cannot store the program here" "the reason, naming the program"

    # The one directory that may run it is full: the error says so.
    mkdir -p "$MG_TMP/small"
    head -c 100000 /dev/urandom | cat "$PROBE" - >"$MG_TMP/big"
    run_mg_sep 255 unshare -fp --mount-proc sh -c "$nowhere"'
        mount -t tmpfs -o size=64k tmpfs "$1" || exit 9
        TMPDIR=$1 exec mitogen-exec local -- "$2"' "$MG_BUILD_DIR" "$MG_TMP/small" "$MG_TMP/big"
    assert "$stderr" =~ "$MG_TMP/big: cannot store the program here: No space left on device" \
        "a full disk, named"
}

@test "a program larger than the far end's memory and swap: refused before it is sent, 255 with the reason" {
    # Sparse: 4 TiB that cost nothing here. Stored in a memfd, it would
    # have grown until the OOM killer ended something on the host; -u 5
    # bounds the damage should the refusal ever go.
    cp "$PROBE" "$MG_TMP/huge"
    truncate -s 4T "$MG_TMP/huge" || skip "no 4 TiB sparse file on this file system"
    MG_TIMEOUT=30 run_mg_sep 255 mitogen-exec -u 5 local/local -- "$MG_TMP/huge"
    assert "$stderr" =~ "^mitogen-exec: local/local: $MG_TMP/huge: cannot store the program here: 4398046511104 bytes is more than this host's memory" \
        "the hop, the program and why"
}

@test "a far end with a file size limit below the program: 255 with the reason; the agent is not killed by SIGXFSZ" {
    skip_if_not_root
    skip_if_no_program sudo
    # The hop's agent runs under ulimit -f (through a sudo that sets it);
    # this side does not. Its copy of the program passes the limit: the
    # write fails (EFBIG), as rsync's receiver has it, instead of a
    # SIGXFSZ ending the agent, and the chain with it.
    local kb
    kb=$(fsize_limit_kb)
    printf '#!/bin/sh\nulimit -f %d\nexec sudo "$@"\n' "$kb" >"$MG_TMP/limited-sudo"
    chmod +x "$MG_TMP/limited-sudo"
    head -c $(((kb + 1024) * 1024)) /dev/urandom | cat "$PROBE" - >"$MG_TMP/big"
    local hop
    local path=$MG_TMP/limited-sudo
    hop="local/sudo:root?sudo_path=${path//\//%2F}"
    run_mg_sep 255 mitogen-exec "$hop" -- "$MG_TMP/big"
    assert "$stderr" =~ "$MG_TMP/big: cannot store the program here: File too large" \
        "the agent lived to say why"
    # A program under the limit runs there; a command gets SIGXFSZ's
    # default back (bit 25 of SigIgn clear), as under ssh.
    run_mg_sep 3 mitogen-exec "$hop" -- "$PROBE"
    run_mg_sep mitogen-run "$hop" -- grep SigIgn /proc/self/status
    assert "$(( 0x${output##*[[:space:]]} & (1 << 24) ))" -eq 0 "SIGXFSZ not ignored by the command"
}

@test "a program for another machine is refused before it is sent" {
    cp "$PROBE" "$MG_TMP/foreign"
    # e_machine (offset 18, little endian) = 183, aarch64; or x86_64 on aarch64.
    if [[ $(uname -m) == aarch64 ]]; then
        printf '\x3e\x00' | dd of="$MG_TMP/foreign" bs=1 seek=18 conv=notrunc status=none
    else
        printf '\xb7\x00' | dd of="$MG_TMP/foreign" bs=1 seek=18 conv=notrunc status=none
    fi
    run_mg_sep 126 mitogen-exec -vv local/local -- "$MG_TMP/foreign"
    assert "$stderr" =~ "built for another machine" "the error says why"
    if grep -q 'program 1 here' <<<"$stderr"; then
        die "the program was sent anyway"
    fi
}

@test "a program rewritten while it is sent runs whole or not at all, never torn" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder reads the program"
    # It prints a hash of the bytes it runs from: two versions of the same
    # size, one padded with zeros and one with 'B', give two known hashes.
    cat >"$MG_TMP/selfsum.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	unsigned long long h = 1469598103934665603ULL;
	unsigned char b[65536];
	ssize_t n;
	int fd = open("/proc/self/exe", O_RDONLY);
	while ((n = read(fd, b, sizeof(b))) > 0)
		for (ssize_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
	printf("%llx\n", h);
	return 0;
}
C
    cc -O2 -o "$MG_TMP/selfsum" "$MG_TMP/selfsum.c"
    cp "$MG_TMP/selfsum" "$MG_TMP/va"
    cp "$MG_TMP/selfsum" "$MG_TMP/vb"
    head -c 16000000 /dev/zero >>"$MG_TMP/va"
    head -c 16000000 /dev/zero | tr '\0' B >>"$MG_TMP/vb"
    local ha hb i line prog=$MG_TMP/prog
    ha=$("$MG_TMP/va")
    hb=$("$MG_TMP/vb")
    cp "$MG_TMP/va" "$prog"
    # In place, over and over, as a build writing its output does.
    # It stops at a file's word, so that no dd of its own still writes
    # when it is waited for.
    (
        while [[ ! -e $MG_TMP/stop ]]; do
            dd if="$MG_TMP/vb" of="$prog" bs=1M conv=notrunc status=none
            dd if="$MG_TMP/va" of="$prog" bs=1M conv=notrunc status=none
        done
    ) &
    WRITER=$!
    for ((i = 0; i < 10; i++)); do
        run_mg_sep '?' mitogen-exec -w local/local,local/fork -- "$prog"
        for line in "${lines[@]}"; do
            if [[ $line != *": $ha" && $line != *": $hb" ]]; then
                die "a torn program ran: $line (whole ones: $ha, $hb)"
            fi
        done
        if [[ $status -ne 0 ]]; then
            assert "$status" -eq 255 "refused, as a program that cannot be sent"
            assert "$stderr" =~ "(changed while it was read|open for writing elsewhere)" "the error says why"
        fi
    done
    touch "$MG_TMP/stop"
    wait "$WRITER" || true
    WRITER=
    run_mg mitogen-exec local -- "$prog"
    [[ $output == "$ha" || $output == "$hb" ]] || die "once left alone, it runs: $output"
}

@test "a program someone holds open for writing is refused, as execve refuses it, and runs once closed" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder reads the program"
    cp "$PROBE" "$MG_TMP/held"
    # A writer stopped halfway: nothing moves while it is read twice.
    exec 8>>"$MG_TMP/held"
    run_mg_sep 255 mitogen-exec local/local -- "$MG_TMP/held"
    exec 8>&-
    assert "$stderr" == "mitogen-exec: $MG_TMP/held: open for writing elsewhere (try again once it is written)" \
        "the error says why"
    [[ $output == "" ]] || die "it ran: $output"
    run_mg_sep 3 mitogen-exec local/local -- "$MG_TMP/held"
}

@test "an interpreter missing at the far end: 127, naming it, not 'command not found'" {
    printf '#!/nonexistent/interp -x\necho hi\n' >"$MG_TMP/nointerp"
    run_mg_sep 127 mitogen-exec local/local -- "$MG_TMP/nointerp"
    assert "$stderr" == "mitogen-exec: local/local: $MG_TMP/nointerp: /nonexistent/interp: bad interpreter: No such file or directory" \
        "the interpreter named"
    # Written on Windows: the kernel looks for "/bin/sh\r".
    printf '#!/bin/sh\r\necho hi\r\n' >"$MG_TMP/crlf"
    run_mg_sep 127 mitogen-exec local/local -- "$MG_TMP/crlf"
    assert "$stderr" =~ "$MG_TMP/crlf: /bin/sh\\^M: bad interpreter: .*DOS line ends" "the CR shown, and why"
    # A dynamic program whose loader is not there (one built for musl on
    # a glibc host).
    printf 'int main(void) { return 0; }\n' >"$MG_TMP/m.c"
    cc -Wl,--dynamic-linker=/nonexistent/ld.so -o "$MG_TMP/noloader" "$MG_TMP/m.c"
    run_mg_sep 127 mitogen-exec local/local -- "$MG_TMP/noloader"
    assert "$stderr" =~ "$MG_TMP/noloader: cannot execute: required file not found \\(its ELF interpreter" \
        "the loader is what is missing"
}

@test "not a program: refused at once" {
    printf 'just text\n' >"$MG_TMP/text"
    run_mg_sep 255 mitogen-exec local -- "$MG_TMP/text"
    assert "$stderr" =~ "neither an ELF program nor a #! script" "clear error"
    run_mg_sep 255 mitogen-exec local -- "$MG_TMP/missing"
    assert "$stderr" =~ "missing: No such file" "a missing file"
}

@test "-T: the command gets a terminal of our size, keys pass through, the status is kept" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) to give mitogen-run a terminal"
    fi
    local out
    out=$(printf 'typed\n' | timeout "$(mg_secs 20)" script -qec \
        "stty rows 33 cols 101; mitogen-run -T local/local 'tty; stty size; read x; echo got \$x; exit 5'; echo rc=\$?" \
        /dev/null | tr -d '\r')
    echo "$out"
    assert "$out" =~ "/dev/pts/" "the command runs on a terminal"
    assert "$out" =~ "33 101" "of our terminal's size"
    assert "$out" =~ "got typed" "what we type reaches it"
    assert "$out" =~ "rc=5" "its exit status comes back"
    run_mg_sep 2 mitogen-run -T -w 'local,local/local' -- true
    assert "$stderr" =~ "-T needs exactly one target" "one target only"
}

@test "-T: a resize of our terminal reaches the remote one" {
    if ! command -v tmux >/dev/null; then
        skip "needs tmux to resize a terminal"
    fi
    local sock=$MG_TMP/tmux.sock
    tmux -S "$sock" new-session -d -s mg -x 80 -y 24 \
        "mitogen-run -T local/local 'trap \"stty size >$MG_TMP/winch\" WINCH; stty size >$MG_TMP/start; sleep 8 & wait; sleep 8 & wait'"
    local i
    for ((i = 0; i < 5 * MG_TIMEOUT_SCALE * 10; i++)); do
        [[ -s $MG_TMP/start ]] && break
        sleep 0.1
    done
    tmux -S "$sock" resize-window -t mg -x 100 -y 30
    for ((i = 0; i < 5 * MG_TIMEOUT_SCALE * 10; i++)); do
        [[ -s $MG_TMP/winch ]] && break
        sleep 0.1
    done
    tmux -S "$sock" kill-server 2>/dev/null || true
    assert "$(cat "$MG_TMP/start")" == "24 80" "the remote terminal starts at our size"
    assert "$(cat "$MG_TMP/winch" 2>/dev/null)" == "30 100" "and follows our resize (SIGWINCH there)"
}
