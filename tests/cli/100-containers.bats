#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# The container methods (docker, podman, buildah, lxc, lxd, jail, kubectl)
# through the fake tools of tests/stubs: each records its argv and boots
# the agent here. We check the exact argv each method runs, chains through
# them, and what a tool's failure before the boot looks like.

load helpers

# The same text lxc and lxd append to a failed boot (mitogen.md 3.8).
LXC_HINT='Note: many versions of LXC do not report program execution failure meaningfully. Please check the host logs (/var/log) for more information.'

function setup() {
    basic_setup
    STUBS=$MG_SRC_DIR/tests/stubs
    PATH=$STUBS:$PATH
    export PATH
    # Every stub appends its argv here, one line per run.
    export MG_STUB_LOG=$MG_TMP/stub.log
    unset MG_STUB_FAIL MG_STUB_FAIL_STUB
    local agent=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}
    AGENT_SIZE=$(stat -c %s "$agent")
    # A one-hop chain of mitogen-run ends there: the master pushes the
    # exec-only agent (docs/PROTOCOL.md 2.3.2) when the build has one.
    LEAF_SIZE=$(stat -L -c %s "$(pushed_agent)")
    # The boot words after the tool's own: the first stage, the size of
    # what is pushed (the image and the HELLO at its end) and a nonce
    # (quoted as the stubs quote).
    BOOT_RE="/bin/sh -c 'n=.1;f=;c=.*;trap .*umask 077;.*' mitogen-boot ([0-9]+) [0-9a-f]+"
}

# A word quoted as the stubs quote it: bare when plain, else in '...'.
function shq() {
    local s=$1
    if [[ -n $s && $s =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$s"
    else
        printf "'%s'" "${s//\'/\'\\\'\'}"
    fi
}

# The words quoted and joined by spaces: how a stub logs its argv.
function qjoin() {
    local out='' w
    for w; do
        out+=${out:+ }$(shq "$w")
    done
    printf '%s\n' "$out"
}

# Percent-encode everything but [A-Za-z0-9._-], for a path in an option.
function pct() {
    local s=$1 out='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c =~ ^[A-Za-z0-9._-]$ ]]; then
            out+=$c
        else
            out+=$(printf '%%%02X' "'$c")
        fi
    done
    printf '%s\n' "$out"
}

# A copy of stub NAME at a path with a blank in it; prints the path.
function stub_copy() {
    local dir="$MG_TMP/other tools"
    mkdir -p "$dir"
    cp "$STUBS/$1" "$dir/my-$1"
    printf '%s\n' "$dir/my-$1"
}

# check_boot WHAT LINE EXPECTED [SIZE]: LINE is EXPECTED (the tool and its
# arguments, quoted) followed by the boot words, for an image of SIZE
# bytes (the whole agent's by default).
function check_boot() {
    local what=$1 line=$2 expected=$3 size=${4:-$AGENT_SIZE}
    assert "${line:0:${#expected}}" == "$expected" "$what: argv up to the boot words"
    assert "${line:${#expected}}" =~ "^ $BOOT_RE\$" "$what: then the boot words"
    # The image, then HELLO: a frame header (28 bytes), its payload and
    # the 8-byte tail, well under 4 KiB for these one-hop chains.
    # --dry-run knows no HELLO yet: it shows the image's own size (the
    # exec-only agent's at a one-hop chain's end, as the run pushes).
    local len=${BASH_REMATCH[1]}
    if [[ $what == --dry-run* ]]; then
        assert "$len" -eq "$size" "$what: the image's size"
        return
    fi
    assert "$len" -gt $((size + 36)) "$what: the image and HELLO are pushed"
    assert "$len" -lt $((size + 4096)) "$what: the image and one HELLO only"
}

# check_argv CHAIN WORD...: mitogen-run CHAIN boots through one stub whose
# argv is WORD... and then the boot words; the command sees that argv in
# $ORIGINAL_ARGV, and the log holds the same single line.
function check_argv() {
    local chain=$1
    shift
    local expected
    expected=$(qjoin "$@")
    : >"$MG_STUB_LOG"
    run_mg_sep mitogen-run "$chain" -- sh -c 'printf "%s\n" "$ORIGINAL_ARGV"'
    assert "$stderr" == "" "$chain: nothing on stderr"
    assert "${#lines[@]}" -eq 1 "$chain: one line of output"
    check_boot "$chain" "$output" "$expected" "$LEAF_SIZE"
    assert "$(cat "$MG_STUB_LOG")" == "$output" "$chain: the stub's log says the same"
}

@test "docker: exec --interactive [--user=USER] CONTAINER, or run ... --rm IMAGE" {
    check_argv docker:app "$STUBS/docker" exec --interactive app
    check_argv docker:www-data@app "$STUBS/docker" exec --interactive --user=www-data app
    check_argv 'docker:app?username=1000' "$STUBS/docker" exec --interactive --user=1000 app
    check_argv 'docker:?image=alpine:3.20' "$STUBS/docker" run --interactive --rm alpine:3.20
    check_argv 'docker:root@?image=alpine' "$STUBS/docker" run --interactive --user=root --rm alpine
    check_argv 'docker?image=reg.example:5000%2Fteam%2Fimg' \
        "$STUBS/docker" run --interactive --rm reg.example:5000/team/img

    local my
    my=$(stub_copy docker)
    check_argv "docker:u@app?docker_path=$(pct "$my")" "$my" exec --interactive --user=u app
    check_argv "docker:?docker_path=$(pct "$my")&image=img" "$my" run --interactive --rm img

    # The stub's marker reaches the command: it really ran through docker.
    run_mg mitogen-run docker:app -- sh -c 'echo "$THIS_IS_STUB_DOCKER"'
    assert "$output" == "1" "THIS_IS_STUB_DOCKER in the command's environment"
}

@test "podman: exec [--user=USER] --interactive -- CONTAINER" {
    check_argv podman:app "$STUBS/podman" exec --interactive -- app
    check_argv podman:root@app "$STUBS/podman" exec --user=root --interactive -- app
    local my
    my=$(stub_copy podman)
    check_argv "podman:app?podman_path=$(pct "$my")&username=1000" \
        "$my" exec --user=1000 --interactive -- app
}

@test "buildah: run [--user=USER] -- CONTAINER" {
    check_argv buildah:wc "$STUBS/buildah" run -- wc
    check_argv buildah:bob@wc "$STUBS/buildah" run --user=bob -- wc
    local my
    my=$(stub_copy buildah)
    check_argv "buildah:wc?buildah_path=$(pct "$my")" "$my" run -- wc
}

@test "lxc: lxc-attach --clear-env --name CONTAINER --" {
    check_argv lxc:c1 "$STUBS/lxc-attach" --clear-env --name c1 --
    local my
    my=$(stub_copy lxc-attach)
    check_argv "lxc:c1?lxc_attach_path=$(pct "$my")" "$my" --clear-env --name c1 --

    # No user can be chosen: '@' is a parse error.
    run_mg_sep 2 mitogen-run lxc:root@c1 true
    assert "$stderr" =~ "column 9" "lxc:root@c1: the column of '@'"
}

@test "lxd: lxc exec --mode=non-interactive CONTAINER --" {
    # The modes are auto, interactive and non-interactive ('lxc exec
    # --help' of LXD and Incus); lxc takes any other word for auto.
    check_argv lxd:c2 "$STUBS/lxc" exec --mode=non-interactive c2 --
    local my
    my=$(stub_copy lxc)
    check_argv "lxd:c2?lxc_path=$(pct "$my")" "$my" exec --mode=non-interactive c2 --
}

@test "jail: /usr/sbin/jexec [-U USER] JAIL" {
    # The default tool is /usr/sbin/jexec, no PATH look-up: --dry-run shows it.
    run_mg_sep mitogen-run --dry-run jail:toor@www true
    check_boot "--dry-run jail:toor@www" "$output" "jail:toor@www: /usr/sbin/jexec -U toor www" "$LEAF_SIZE"

    check_argv 'jail:www?jexec_path=jexec' "$STUBS/jexec" www
    check_argv 'jail:toor@www?jexec_path=jexec' "$STUBS/jexec" -U toor www
    local my
    my=$(stub_copy jexec)
    check_argv "jail:www?username=toor&jexec_path=$(pct "$my")" "$my" -U toor www
}

@test "kubectl: [kubectl_args] [--namespace=] [--context=] exec -i POD [--container=] --" {
    check_argv kubectl:web-0 "$STUBS/kubectl" exec -i web-0 --
    check_argv 'kubectl:web-0?namespace=prod' "$STUBS/kubectl" --namespace=prod exec -i web-0 --
    check_argv 'kubectl:web-0?context=kind-kind' "$STUBS/kubectl" --context=kind-kind exec -i web-0 --
    check_argv 'kubectl:web-0?container=app' "$STUBS/kubectl" exec -i web-0 --container=app --

    # List option: repeated, each value split like shell words, always first.
    check_argv 'kubectl:web-0?kubectl_args=--v%3D2&kubectl_args=--request-timeout%3D5s' \
        "$STUBS/kubectl" --v=2 --request-timeout=5s exec -i web-0 --
    check_argv "kubectl:web-0?kubectl_args=--kubeconfig%20%27%2Fetc%2Fmy%20conf%27%20-v%3D1" \
        "$STUBS/kubectl" --kubeconfig '/etc/my conf' -v=1 exec -i web-0 --

    # Everything at once, options in another order than the argv's.
    local my
    my=$(stub_copy kubectl)
    check_argv "kubectl:db-1?container=pg&context=c&kubectl_path=$(pct "$my")&namespace=ns&kubectl_args=--v%3D9" \
        "$my" --v=9 --namespace=ns --context=c exec -i db-1 --container=pg --
}

@test "chains through container hops: one stub per hop, in order" {
    : >"$MG_STUB_LOG"
    run_mg_sep mitogen-run local/docker:app/podman:x -- true
    assert "$output$stderr" == "" "local/docker:app/podman:x -- true: silent"
    local -a log
    mapfile -t log <"$MG_STUB_LOG"
    assert "${#log[@]}" -eq 2 "two stubs ran"
    check_boot "hop 2" "${log[0]}" "$STUBS/docker exec --interactive app"
    check_boot "hop 3" "${log[1]}" "$STUBS/podman exec --interactive -- x"

    # Every stub of the chain is in the command's environment; the argv is
    # that of the last hop.
    run_mg mitogen-run 'docker:u@a/lxd:b/kubectl:p?namespace=n/buildah:c' -- \
        sh -c 'echo $THIS_IS_STUB_DOCKER$THIS_IS_STUB_LXC$THIS_IS_STUB_KUBECTL$THIS_IS_STUB_BUILDAH; printf "%s\n" "$ORIGINAL_ARGV"'
    assert "${lines[0]}" == "1111" "all four stubs ran"
    check_boot "last hop" "${lines[1]}" "$STUBS/buildah run -- c"

    # Exit status, stdin and stdout travel through them as through local.
    run_mg 3 mitogen-run docker:app/jail:j?jexec_path=jexec -- sh -c 'exit 3'
    head -c 1048576 /dev/urandom >"$MG_TMP/in"
    run_mg_sep mitogen-run 'kubectl:p/lxc:c' -- cat <"$MG_TMP/in"
    run cmp "$MG_TMP/in" "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "1 MiB through kubectl/lxc comes back intact (cmp: $output)"
}

@test "a tool that fails before the boot: 255, the hop named, its message kept" {
    local chain prefix i
    local -a chains=(docker:app 'docker:?image=app' podman:app buildah:app lxc:app lxd:app
        'jail:app?jexec_path=jexec' kubectl:app)
    # How errors name them: the canonical text of each chain.
    local -a names=(docker:app 'docker?image=app' podman:app buildah:app lxc:app lxd:app
        'jail:app?jexec_path=jexec' kubectl:app)
    export MG_STUB_FAIL='Error: No such container: app'
    for i in "${!chains[@]}"; do
        chain=${chains[i]}
        prefix="mitogen-run: ${names[i]}: "
        run_mg_sep 255 mitogen-run "$chain" true
        assert "$output" == "" "$chain: nothing on stdout"
        assert "${stderr:0:${#prefix}}" == "$prefix" "$chain: the error names the hop"
        assert "$stderr" =~ "Error: No such container: app" "$chain: the tool's message"
        case $chain in
        lxc:* | lxd:*)
            # (Marked by substitution: the hint is no regex.)
            assert "${stderr/"$LXC_HINT"/<HINT>}" =~ "<HINT>" "$chain: the LXC hint"
            ;;
        *)
            assert "$stderr" !~ "LXC" "$chain: no LXC hint"
            ;;
        esac
    done

    # A tool that exits 0 without a word (as mitogen's own test does it).
    run_mg_sep 255 env -u MG_STUB_FAIL mitogen-run 'lxc:c1?lxc_attach_path=true' true
    assert "$stderr" =~ "exited with status 0 before the agent was up" "lxc_attach_path=true"
    assert "${stderr/"$LXC_HINT"/<HINT>}" =~ "<HINT>" "lxc_attach_path=true: the LXC hint"

    # Deeper in a chain: only podman fails, and the message says so.
    prefix="mitogen-run: local/docker:app/podman:x: "
    MG_STUB_FAIL_STUB=podman run_mg_sep 255 mitogen-run local/docker:app/podman:x -- true
    assert "${stderr:0:${#prefix}}" == "$prefix" "the failing hop is named"
    assert "$stderr" =~ "Error: No such container: app" "podman's message"
}

@test "missing tool or container: clear errors" {
    run_mg_sep 255 mitogen-run 'docker:app?docker_path=no-such-docker' true
    assert "$stderr" =~ "no-such-docker" "a missing tool is named"

    # No container: a usage error from the chain parser, exit 2.
    run_mg_sep 2 mitogen-run docker true
    assert "$stderr" =~ "docker needs a container" "docker without a container"
    run_mg_sep 2 mitogen-run 'docker:app?image=img' true
    assert "$stderr" =~ "not both" "docker with a container and image="
    run_mg_sep 2 mitogen-run kubectl: true
    assert "$stderr" =~ "kubectl needs a pod" "kubectl without a pod"
}

@test "stubs answer the look-ups of setns: docker inspect, lxc info" {
    run docker inspect '--format={{.State.Pid}}' app
    assert "$output" == "1" "docker inspect: pid 1 by default"
    MG_STUB_DOCKER_PID=4242 run docker inspect '--format={{.State.Pid}}' app
    assert "$output" == "4242" "docker inspect: MG_STUB_DOCKER_PID"
    MG_STUB_LXC_PID=77 run lxc info c1
    assert "$output" =~ $'(^|\n)Pid: 77(\n|$)' "lxc info: a Pid: line"
}

# vim: filetype=sh
