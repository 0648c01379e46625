#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# The become methods (sudo, su, doas) for real: test users made by
# users.bash, the system's sudo and su with PAM, and real password
# prompts. Root needs no password, so a chain first becomes mgtest_a
# (without one) and asks from there. doas runs for real when OpenDoas is
# installed and /etc/doas.conf is free to write; else through
# tests/stubs/doas, which prompts as OpenDoas does.

load helpers
load users

function setup_file() {
    # The users and the sudoers file are shared by every test here.
    export BATS_NO_PARALLELIZE_WITHIN_FILE=true
    setup_users
    setup_doas
}

function teardown_file() {
    teardown_doas
    teardown_users
}

# Milliseconds since the epoch.
function now_ms() {
    printf '%s\n' $(($(date +%s%N) / 1000000))
}

###############################################################################
# doas: the real one, or the stub

MG_DOAS_CONF=/etc/doas.conf

# A setuid doas that is not our stub, and a doas.conf we may write.
function setup_doas() {
    MG_DOAS_REAL=
    MG_DOAS_CONF_OURS=
    local d
    d=$(command -v doas 2>/dev/null || true)
    if [[ -z ${MG_USERS_SKIP:-} && -n $d && -u $d && ! -e $MG_DOAS_CONF ]]; then
        printf '# Written by tests/cli/300-become.bats; removed after the tests.\npermit mgtest_a as mgtest_b\n' \
            >"$MG_DOAS_CONF"
        chmod 0400 "$MG_DOAS_CONF"
        MG_DOAS_REAL=$d
        MG_DOAS_CONF_OURS=1
    fi
    export MG_DOAS_REAL MG_DOAS_CONF_OURS
}

function teardown_doas() {
    if [[ -n ${MG_DOAS_CONF_OURS:-} ]]; then
        rm -f -- "$MG_DOAS_CONF"
    fi
}

function need_real_doas() {
    if [[ -z ${MG_DOAS_REAL:-} ]]; then
        skip "no setuid doas here, or $MG_DOAS_CONF exists (apt-get install opendoas)"
    fi
}

# The stub, by path: found whatever PATH the hop has.
function stub_doas_path() {
    users_pct "$MG_SRC_DIR/tests/stubs/doas"
}

# END doas
###############################################################################

@test "sudo without a password: root becomes the user" {
    need_users
    run_mg_sep mitogen-run sudo:mgtest_a -- id -un
    assert "$output" == "mgtest_a" "sudo:mgtest_a runs the command as mgtest_a"
    assert "$stderr" == "" "nothing on stderr"

    run_mg mitogen-run sudo:mgtest_a 'id -u; id -g'
    assert "${lines[0]}" == "$(id -u mgtest_a)" "uid of mgtest_a"
    assert "${lines[1]}" == "$(id -g mgtest_a)" "gid of mgtest_a"

    # No user: root. username= says the same as the spec.
    run_mg mitogen-run sudo -- id -un
    assert "$output" == "root" "sudo with no user becomes root"
    run_mg mitogen-run 'sudo?username=mgtest_a' -- id -un
    assert "$output" == "mgtest_a" "username= option"

    # Through a local hop, then sudo from an unprivileged agent: mgtest_c
    # may become mgtest_b without a password (NOPASSWD).
    run_mg mitogen-run local/sudo:mgtest_c/sudo:mgtest_b -- id -un
    assert "$output" == "mgtest_b" "root -> mgtest_c -> mgtest_b, NOPASSWD"
}

@test "sudo: the agent killed, its command gets SIGTERM in sudo's own session (use_pty) too" {
    need_users
    # sudo with use_pty (Debian's default) runs the agent in a session of
    # its own, which the parent's sweep of the hop's session missed.
    chmod 711 "$MG_TMP"
    mkdir -m 1777 "$MG_TMP/marks"
    check_agent_killed_leftovers sudo:mgtest_a "$MG_TMP/marks"
    check_agent_killed_leftovers local/sudo:mgtest_a "$MG_TMP/marks"
}

@test "--dry-run shows the argv of sudo, su and doas" {
    run_mg_sep mitogen-run --dry-run 'sudo:mgtest_a?set_home=1&sudo_args=-E/su:mgtest_b/doas:mgtest_c' true
    assert "$stderr" == "" "--dry-run: nothing on stderr"
    assert "${#lines[@]}" -eq 3 "one line per hop"
    assert "${lines[0]}" =~ "^sudo:mgtest_a\?[^ ]*: sudo -p mitogen-sudo-prompt: -u mgtest_a -E -H -- /bin/sh -c 'n=.1;f=;c=.*;trap .*umask 077;" \
        "sudo: forced prompt, user, flags in order, then --"
    assert "${lines[1]}" =~ ": su mgtest_b -c '/bin/sh -c '\\\\''n=.*umask 077;" \
        "su: USER -c and the boot command as one quoted word"
    assert "${lines[2]}" =~ ": doas -u mgtest_c -- /bin/sh -c 'n=.1;f=;c=.*;trap .*umask 077;" "doas: -u USER --"
}

@test "sudo set_home, preserve_env and login change what the command sees" {
    need_users
    cd /
    # HOME: our sudoers keeps it for mgtest_a; -H sets the target's.
    HOME=/nonexistent-mg run_mg mitogen-run sudo:mgtest_a 'echo "$HOME"'
    assert "$output" == "/nonexistent-mg" "without set_home, HOME is kept (env_keep)"
    local chain
    for chain in 'sudo:mgtest_a?set_home=1' 'sudo:mgtest_a?sudo_args=-H' \
        'sudo:mgtest_a?sudo_args=-H%20-S%20-n' 'sudo:mgtest_a?sudo_args=--set-home'; do
        HOME=/nonexistent-mg run_mg mitogen-run "$chain" 'echo "$HOME"'
        assert "$output" == "$MG_HOME_A" "$chain: HOME of mgtest_a"
    done
    # Explicit options win over sudo_args.
    HOME=/nonexistent-mg run_mg mitogen-run 'sudo:mgtest_a?set_home=0&sudo_args=-H' 'echo "$HOME"'
    assert "$output" == "/nonexistent-mg" "set_home=0 wins over sudo_args=-H"

    # preserve_env: a variable of mitogen-run's environment gets through.
    MG_KEEP=kept-42 run_mg mitogen-run sudo:mgtest_a 'echo "${MG_KEEP:-unset}"'
    assert "$output" == "unset" "sudo resets the environment"
    for chain in 'sudo:mgtest_a?preserve_env=1' 'sudo:mgtest_a?sudo_args=-E' \
        'sudo:mgtest_a?sudo_args=--preserve-env'; do
        MG_KEEP=kept-42 run_mg mitogen-run "$chain" 'echo "${MG_KEEP:-unset}"'
        assert "$output" == "kept-42" "$chain: the variable is kept"
    done

    # login: a login shell, which starts in the home directory.
    run_mg mitogen-run sudo:mgtest_a pwd
    assert "$output" == "/" "without login, the directory of mitogen-run"
    for chain in 'sudo:mgtest_a?login=1' 'sudo:mgtest_a?sudo_args=-i' 'sudo:mgtest_a?sudo_args=--login'; do
        run_mg_sep mitogen-run "$chain" 'pwd; id -un'
        assert "${lines[0]:-}" == "$MG_HOME_A" "$chain: starts in the home of mgtest_a"
        assert "${lines[1]:-}" == "mgtest_a" "$chain: as mgtest_a"
    done
    # An exact argv through sudo -i, whose login shell would expand '$'.
    run_mg mitogen-run 'sudo:mgtest_a?login=1&set_home=1' -- \
        sh -c 'printf "[%s]" "$@"' x 'a b' '$HOME' "it's"
    assert "$output" == "[a b][\$HOME][it's]" "argv through sudo -i is not re-expanded"
    # sudo refuses -i with -E: said before anything runs.
    run_mg_sep '?' mitogen-run 'sudo:mgtest_a?login=1&preserve_env=1' true
    assert "$status" -ne 0 "login with preserve_env fails"
    assert "$stderr" =~ "sudo: login \(-i\) and preserve_env \(-E\) cannot be combined" "and says why"
}

@test "sudo asks for a password: password_env and password_file" {
    need_users
    # mgtest_a must give its own password to become mgtest_b.
    MG_PW=$MG_PW_A run_mg_sep mitogen-run 'sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW' -- id -un
    assert "$output" == "mgtest_b" "password_env: the prompt was answered"
    assert "$stderr" == "" "nothing on stderr"

    local f=$MG_TMP/pw
    printf '%s\n' "$MG_PW_A" >"$f"
    chmod 600 "$f"
    run_mg_sep mitogen-run "sudo:mgtest_a/sudo:mgtest_b?password_file=$(users_pct "$f")" -- id -un
    assert "$output" == "mgtest_b" "password_file: the prompt was answered"

    # A hop that does not prompt ignores its password.
    MG_PW=unused run_mg mitogen-run 'sudo:mgtest_a?password_env=MG_PW' -- id -un
    assert "$output" == "mgtest_a" "no prompt: the password is not used"
}

@test "a wrong sudo password: exit 255, 'sudo password is incorrect', naming the hop" {
    need_users
    local t0 t1
    t0=$(now_ms)
    MG_PW=not-the-password run_mg_sep 255 mitogen-run -t 30 \
        'sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW' -- id -un
    t1=$(now_ms)
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/sudo:mgtest_b[^ ]*: sudo password is incorrect" \
        "the error names the hop and the cause"
    assert "$((t1 - t0))" -lt 15000 "failed at the first refusal, not at the connect timeout"
}

@test "a password holding a line end is never sent: exit 255, saying why" {
    need_users
    # sudo took the first line and left the rest on its terminal; su (raw)
    # read it all and failed; either could count a second, wrong try.
    MG_PW=$MG_PW_A$'\nrest' run_mg_sep 255 mitogen-run -t 30 \
        'sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW' -- id -un
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/sudo:mgtest_b[^ ]*: sudo password holds a line end" \
        "the error names the hop and the cause"
    MG_PW=$MG_PW_B$'\r' run_mg_sep 255 mitogen-run -t 30 \
        'sudo:mgtest_a/su:mgtest_b?password_env=MG_PW' -- id -un
    assert "$stderr" =~ "su password holds a line end" "su: a carriage return too"
}

@test "no password and no terminal: sudo fails fast" {
    need_users
    local t0 t1
    t0=$(now_ms)
    # setsid: no controlling terminal to ask on.
    run_mg_sep 255 setsid -w mitogen-run -t 30 sudo:mgtest_a/sudo:mgtest_b -- id -un </dev/null
    t1=$(now_ms)
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/sudo:mgtest_b: sudo password is required" \
        "the error names the hop and says a password is needed"
    assert "$((t1 - t0))" -lt 15000 "well under the 30 s connect timeout"
}

@test "sudoers refusals are clear errors" {
    need_users
    # mgtest_c may become mgtest_b only (and is never asked a password).
    run_mg_sep 255 mitogen-run sudo:mgtest_c/sudo:mgtest_a -- id -un
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_c/sudo:mgtest_a: .*not allowed to run commands as 'mgtest_a'" \
        "a refused target user"
    # mgtest_b is in no rule: sudo asks for the password first, then says so.
    MG_PW=$MG_PW_B run_mg_sep 255 mitogen-run 'sudo:mgtest_b/sudo:mgtest_a?password_env=MG_PW' -- id -un
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_b/sudo:mgtest_a[^ ]*: .*not in sudoers" \
        "a user in no sudoers rule"
    # A user that does not exist.
    run_mg_sep 255 mitogen-run sudo:mgtest_nosuch -- id -un
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_nosuch: there is no user 'mgtest_nosuch' here" \
        "an unknown user"
}

@test "su asks for the target's password" {
    need_users
    # root's su asks nothing: go through mgtest_a.
    MG_PW=$MG_PW_B run_mg_sep mitogen-run 'sudo:mgtest_a/su:mgtest_b?password_env=MG_PW' -- id -un
    assert "$output" == "mgtest_b" "su with password_env"
    assert "$stderr" == "" "nothing on stderr"

    local f=$MG_TMP/pw
    printf '%s\n' "$MG_PW_B" >"$f"
    run_mg mitogen-run "sudo:mgtest_a/su:mgtest_b?password_file=$(users_pct "$f")" -- \
        sh -c 'printf "[%s]" "$@"' x 'a b' '$HOME' "it's"
    assert "$output" == "[a b][\$HOME][it's]" "su with password_file: an exact argv"

    # Root needs none.
    run_mg mitogen-run su:mgtest_a -- id -un
    assert "$output" == "mgtest_a" "root's su asks nothing"
}

@test "a wrong su password: exit 255, 'su password is incorrect'" {
    need_users
    MG_PW=not-the-password run_mg_sep 255 mitogen-run -t 30 \
        'sudo:mgtest_a/su:mgtest_b?password_env=MG_PW' -- id -un
    assert "$output" == "" "the command did not run"
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/su:mgtest_b[^ ]*: su password is incorrect" \
        "the error names the hop and the cause"

    # No password and no terminal: at once, not at the timeout.
    local t0 t1
    t0=$(now_ms)
    run_mg_sep 255 setsid -w mitogen-run -t 30 sudo:mgtest_a/su:mgtest_b -- id -un </dev/null
    t1=$(now_ms)
    assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/su:mgtest_b: su password is required" \
        "no password for su"
    assert "$((t1 - t0))" -lt 15000 "well under the 30 s connect timeout"
}

@test "a wrong su password in German or French: 'su password is incorrect'" {
    need_users
    # su prints PAM's translated "Authentication failure" (unit tests in
    # test-argv-become cover the texts; this needs the locale built here).
    local loc ran=0
    for loc in de_DE.UTF-8 fr_FR.UTF-8; do
        if ! locale -a 2>/dev/null | grep -qix "${loc%.UTF-8}.utf8"; then
            continue
        fi
        LANG=$loc LC_ALL=$loc MG_PW=not-the-password run_mg_sep 255 mitogen-run -t 30 \
            'sudo:mgtest_a/su:mgtest_b?password_env=MG_PW' -- id -un
        assert "$stderr" =~ "^mitogen-run: sudo:mgtest_a/su:mgtest_b[^ ]*: su password is incorrect" \
            "$loc: the translated refusal is understood"
        assert "$stderr" =~ "Passwort|Mot de passe" "$loc: su did speak $loc"
        ran=$((ran + 1))
    done
    if ((ran == 0)); then
        skip "neither de_DE.UTF-8 nor fr_FR.UTF-8 is built here (localedef -i de_DE -f UTF-8 de_DE.UTF-8)"
    fi
}

@test "a wrong su password in languages of the Linux-PAM catalogues here: prompt answered, refusal understood" {
    need_users
    # LANGUAGE chooses the catalogue under C.UTF-8 (glibc ignores it only
    # under "C"), so no locale need be built; sudo keeps it (env_keep).
    # A prompt not recognised waits for the connect timeout; a refusal
    # not recognised is some other error. In the background, so not by
    # run_mg_sep: wrapped in timeout(1) as it does. One batch by default:
    # languages once missed (ro, km, vi, bg, hi, ka, ar, he: Cyrillic,
    # Indic, Khmer, Georgian, right-to-left scripts; kk and sr@latin's
    # refusals); every catalogue with MG_ALL_LANGUAGES=1 (80 s here):
    # test-argv-become checks all their texts in any case.
    local sample=' ro km vi bg hi ka ar he kk sr@latin '
    local no_refusal=' as bn bn_IN gu hi km kn ml mr or pa si ta te '
    local mo lang i translated=0 langs=() failed=() batch=()
    if ! locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        skip "no C.UTF-8 locale here"
    fi
    for mo in /usr/share/locale/*/LC_MESSAGES/Linux-PAM.mo; do
        [[ -e $mo ]] || continue
        mo=${mo#/usr/share/locale/}
        if [[ ${MG_ALL_LANGUAGES:-} == 1 || $sample == *" ${mo%%/*} "* ]]; then
            langs+=("${mo%%/*}")
        fi
    done
    if ((${#langs[@]} == 0)); then
        skip "no Linux-PAM catalogues here (/usr/share/locale/*/LC_MESSAGES/Linux-PAM.mo)"
    fi
    # pam_unix sleeps ~2 s after a wrong password: ten at a time.
    for ((i = 0; i < ${#langs[@]}; i += 10)); do
        batch=("${langs[@]:i:10}")
        for lang in "${batch[@]}"; do
            LC_ALL=C.UTF-8 LANGUAGE=$lang MG_PW=not-the-password \
                timeout -v --kill-after=5 40 mitogen-run -t 20 \
                'sudo:mgtest_a/su:mgtest_b?password_env=MG_PW' -- id -un \
                >"$MG_TMP/su-$lang.out" 2>"$MG_TMP/su-$lang.err" 3>/dev/null &
        done
        wait
        for lang in "${batch[@]}"; do
            local want="su password is incorrect"
            if [[ $no_refusal == *" $lang "* ]]; then
                # Refusal left out (su.c): the prompt was answered all
                # the same, and su's own words end the hop.
                want="hop exited with status 1 before the agent was up; it printed:"
            fi
            if ! grep -q "^mitogen-run: sudo:mgtest_a/su:mgtest_b[^ ]*: $want" \
                "$MG_TMP/su-$lang.err"; then
                failed+=("$lang")
                printf '%s: %s\n' "$lang" "$(head -c 300 "$MG_TMP/su-$lang.err")"
            fi
            if ! grep -q "Password:" "$MG_TMP/su-$lang.err"; then
                translated=$((translated + 1))
            fi
        done
    done
    assert "${failed[*]}" == "" "languages whose prompt or refusal was not understood (of ${#langs[@]})"
    # The catalogues were read: most prompts were not English.
    assert "$translated" -gt "$((${#langs[@]} / 2))" "languages whose prompt was translated (of ${#langs[@]})"
}

@test "passwords never show in ps output nor in -vvv logs" {
    need_users
    local chain='sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW_A/su:mgtest_c?password_env=MG_PW_C'
    local pid rc=0

    # Sample every process's argv while the chain comes up and runs.
    timeout -v "$(mg_secs "$MG_TIMEOUT")" mitogen-run -vvv "$chain" -- sh -c 'sleep 1; id -un' \
        >"$MG_TMP/out" 2>"$MG_TMP/log" 3>/dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        ps -eo pid=,user=,args= >>"$MG_TMP/ps" 2>/dev/null || true
        sleep 0.05
    done
    wait "$pid" || rc=$?
    printf '%s\n' "$(cat "$MG_TMP/log")"
    assert "$rc" -eq 0 "the three-hop chain with two passwords works"
    assert "$(cat "$MG_TMP/out")" == "mgtest_c" "the command ran at the end"
    assert "$(grep -c 'mitogen' "$MG_TMP/ps")" -gt 0 "ps saw the hops"

    local pw
    for pw in "$MG_PW_A" "$MG_PW_C"; do
        if grep -F -e "$pw" "$MG_TMP/ps"; then
            die "a password is in the output of ps"
        fi
        if grep -F -e "$pw" "$MG_TMP/log" "$MG_TMP/out"; then
            die "a password is in the -vvv log"
        fi
        # Not even its random part alone (echoed back, cut, re-quoted).
        if grep -F -e "${pw:0:14}" "$MG_TMP/ps" "$MG_TMP/log"; then
            die "part of a password is in ps output or the log"
        fi
    done

    # Nor in the error of a refused one.
    MG_PW=$MG_PW_C run_mg_sep 255 mitogen-run -vvv 'sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW' true
    if [[ $stderr == *"${MG_PW_C:0:14}"* ]]; then
        die "a refused password is in the error output"
    fi
}

@test "a target's login script that fakes sudo's prompt is not sent the password" {
    need_users
    # sudo -i runs the target's ~/.profile before the first stage. Root
    # needs no password, so sudo never asks: a prompt seen now is the
    # target's own, and the caller's password must not answer it. The
    # fake waits 2 s for an answer, then lets the login go on.
    local profile=$MG_HOME_A/.profile
    cp -p -- "$profile" "$MG_TMP/profile.orig"
    cat >>"$profile" <<'EOF'
stty -icanon min 0 time 20 </dev/tty 2>/dev/null
printf 'mitogen-sudo-prompt:' >&2
IFS= read -r got </dev/tty
printf '%s' "$got" >"$HOME/stolen"
EOF
    MG_PW=caller-secret-77 run_mg_sep mitogen-run -t 20 'sudo:mgtest_a?login=1&password_env=MG_PW' -- \
        sh -c 'cat "$HOME/stolen"; rm -f "$HOME/stolen"'
    cp -p -- "$MG_TMP/profile.orig" "$profile"
    assert "$output" == "" "the fake prompt read nothing (not: the password)"
}

@test "an agent cannot be traced or read by another process of its user; the command can" {
    need_users
    # Passwords for deeper hops pass through an agent: like ssh-agent, it
    # is not dumpable, so /proc/PID of it is root's and its memory and
    # descriptors are closed to the user it runs as. Its command is a
    # plain process of that user again.
    run_mg_sep mitogen-run sudo:mgtest_a "$AGENT_CLOSED_PROBE"
    assert_agent_closed "$(id -u mgtest_a)" "sudo:mgtest_a"
}

@test "hostile user names are refused by the parser" {
    local spec
    for spec in 'sudo:-u' 'sudo:-oProxyCommand=x' 'su:a;touch%20x' 'doas:$(id)' 'sudo:a%20b' \
        'sudo:`id`' 'su:a|b' 'sudo?username=-r' 'doas:a%0Ab' "sudo:a'b" 'sudo:a"b' 'su:a>b'; do
        run_mg_sep 2 mitogen-run "$spec" touch "$MG_TMP/ran"
        assert "$stderr" =~ "^mitogen-run: chain '.*': column [0-9]+: " "$spec: a parse error with its column"
    done
    if [[ -e $MG_TMP/ran ]]; then
        die "a hostile user name ran the command"
    fi
}

@test "bad sudo_args and options are errors before anything runs" {
    run_mg_sep '?' mitogen-run 'sudo?sudo_args=-X' touch "$MG_TMP/ran"
    assert "$status" -ne 0 "sudo_args=-X fails"
    assert "$stderr" =~ "sudo: unsupported option -X" "names the option"
    run_mg_sep '?' mitogen-run 'sudo?sudo_args=-H%20whoami' touch "$MG_TMP/ran"
    assert "$status" -ne 0 "leftover words fail"
    assert "$stderr" =~ "unsupported sudo arguments: whoami" "names the words"
    run_mg_sep '?' mitogen-run 'sudo?sudo_args=-u' touch "$MG_TMP/ran"
    assert "$status" -eq 2 "a missing value: refused as the chain is read"
    assert "$stderr" =~ "option sudo_args: '-u' is missing its argument" "a missing value"
    run_mg_sep '?' mitogen-run 'sudo?set_home=maybe' touch "$MG_TMP/ran"
    assert "$stderr" =~ "option set_home: expected yes or no" "a bad boolean"
    if [[ -e $MG_TMP/ran ]]; then
        die "a bad option ran the command"
    fi
}

@test "doas: prompt, password, wrong password, refusal (stub)" {
    # The stub prompts on /dev/tty like OpenDoas and runs the command as
    # the caller; root runs it, so it needs no test users.
    local stub=$MG_SRC_DIR/tests/stubs/doas
    local chain
    chain="doas:mgtest_b?doas_path=$(stub_doas_path)"

    MG_STUB_DOAS_PASSWORD=$'s3cret \'"$x' MG_PW=$'s3cret \'"$x' \
        run_mg_sep mitogen-run "$chain&password_env=MG_PW" -- sh -c 'printf "%s\n" "$THIS_IS_STUB_DOAS" "$ORIGINAL_ARGV"'
    assert "${lines[0]:-}" == "1" "the stub ran"
    assert "${lines[1]:-}" =~ "^$stub -u mgtest_b -- /bin/sh -c 'n=.1;f=;c=.*;trap .*umask 077;.*' mitogen-boot [0-9]+ [0-9a-f]+\$" \
        "doas -u USER -- BOOT"

    MG_STUB_DOAS_PASSWORD=right MG_PW=wrong \
        run_mg_sep 255 mitogen-run "$chain&password_env=MG_PW" -- true
    assert "$stderr" =~ "^mitogen-run: doas:mgtest_b[^ ]*: doas password is incorrect" "a wrong password"

    MG_STUB_DOAS_PASSWORD=right run_mg_sep 255 setsid -w mitogen-run "$chain" -- true </dev/null
    assert "$stderr" =~ "^mitogen-run: doas:mgtest_b[^ ]*: doas password is required" "no password, no terminal"

    MG_STUB_DOAS_DENY=1 run_mg_sep 255 mitogen-run "$chain" -- true
    assert "$stderr" =~ "^mitogen-run: doas:mgtest_b[^ ]*: .*not allowed to run commands as 'mgtest_b' here \(doas.conf\)" \
        "doas.conf refuses"

    # Without a prompt at all (a nopass rule), the password is not needed.
    run_mg mitogen-run "$chain" -- echo ran
    assert "$output" == "ran" "no prompt, no password"
}

@test "a prompter that turns echo off late cannot echo the password into logs" {
    # The master must turn echo off on the PTY itself (mitogen does), so
    # a password written the moment the prompt shows is never echoed back.
    local chain
    chain="doas:mgtest_b?doas_path=$(stub_doas_path)&password_env=MG_PW"
    MG_STUB_DOAS_LATE_NOECHO=1 MG_STUB_DOAS_PASSWORD=right-pw-1 MG_PW=wrong-pw-2 \
        run_mg_sep 255 mitogen-run -vvv "$chain" -- true
    if [[ $stderr == *wrong-pw-2* ]]; then
        die "the password was echoed back and logged"
    fi
    MG_STUB_DOAS_LATE_NOECHO=1 MG_STUB_DOAS_PASSWORD=right-pw-1 MG_PW=right-pw-1 \
        run_mg_sep mitogen-run -vvv "$chain" -- echo ran
    assert "$output" == "ran" "the right password still works"
    if [[ $stderr == *right-pw-1* ]]; then
        die "the password was echoed back and logged"
    fi
}

@test "doas for real: OpenDoas and doas.conf" {
    need_users
    need_real_doas
    MG_PW=$MG_PW_A run_mg_sep mitogen-run 'sudo:mgtest_a/doas:mgtest_b?password_env=MG_PW' -- id -un
    assert "$output" == "mgtest_b" "doas with mgtest_a's password"
    MG_PW=wrong run_mg_sep 255 mitogen-run 'sudo:mgtest_a/doas:mgtest_b?password_env=MG_PW' -- id -un
    assert "$stderr" =~ "doas password is incorrect" "a wrong password"
    run_mg_sep 255 mitogen-run 'sudo:mgtest_a/doas:mgtest_c' -- id -un
    assert "$stderr" =~ "not allowed to run commands as 'mgtest_c'" "doas.conf has no rule for it"
}

# vim: filetype=sh
