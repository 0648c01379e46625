# -*- bash -*-
#
# Test users for the become methods (sudo, su, doas). Load after helpers:
#
#     load helpers
#     load users
#     function setup_file() { setup_users; }
#     function teardown_file() { teardown_users; }
#     @test "..." { need_users; run_mg mitogen-run sudo:mgtest_a -- id -un; }
#
# The tests run as root, and root needs no password for sudo or su. To see
# real prompts, a chain first becomes an unprivileged user without one
# (root -> sudo:mgtest_a), who then needs a password for the next hop:
#
#   mgtest_a  may sudo to mgtest_b with mgtest_a's password (2 tries)
#   mgtest_b  is in no sudoers rule at all
#   mgtest_c  may sudo to mgtest_b without a password (NOPASSWD; and
#             not authenticate, so a refusal comes without a prompt first)
#   su USER   asks USER's password (PAM), whoever calls it but root
#
# Each user has a home (for set_home and login) and /bin/sh as its shell.
# The passwords hold blanks, quotes and '$' so that no layer may quote
# them wrongly, and a random part so that a grep for them in ps output or
# logs cannot match anything else.
#
# setup_users never fails a file: when users cannot be made here (not
# root, tools missing) it records why in MG_USERS_SKIP and need_users
# skips each test that needs them.
#
# Exports:
#   MG_PW_A, MG_PW_B, MG_PW_C  the passwords of mgtest_a, _b, _c
#   MG_HOME_A                  the home of mgtest_a
#   MG_USERS_SKIP              why users cannot be made here, or empty

MG_TEST_USERS=(mgtest_a mgtest_b mgtest_c)
MG_SUDOERS_FILE=/etc/sudoers.d/mitogen-test

# Percent-encode a string for a chain option value ('/' would end the hop,
# '&' the option, ',' the chain); only letters, digits and "._~-" stay.
function users_pct() {
    local s=$1 out='' c i
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9._~-]) out+=$c ;;
        *) printf -v c '%%%02X' "'$c"; out+=$c ;;
        esac
    done
    printf '%s\n' "$out"
}

# Remove the users and the sudoers file; quiet, and safe to repeat.
# A process still running as one of them was started by this file (the
# users are its own, under the lock): it is named, then killed by pid.
# Seen: an agent of the sanitizer build whose LeakSanitizer hung at exit
# (its tracer child in wait4 on it, itself spinning), one a CI run,
# taking half a CPU from every test after it.
function _users_remove() {
    local u pid st
    rm -f -- "$MG_SUDOERS_FILE"
    for u in "${MG_TEST_USERS[@]}"; do
        if id -u "$u" >/dev/null 2>&1; then
            for pid in $(pgrep -u "$u" 2>/dev/null); do
                # Gone since, or ended with its reaper late (an init
                # that reaps slowly).
                st=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
                [[ $st != Z* ]] || continue
                printf '# left running as %s, killed: %s\n' "$u" \
                    "$(ps -o pid=,etime=,args= -p "$pid" 2>/dev/null | cut -c1-100)" >&3 2>/dev/null || true
                kill -KILL "$pid" 2>/dev/null || true
            done
            # -f: even while a process of a failed test still runs as it.
            userdel -r -f "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1 || true
        fi
    done
}

#################
#  setup_users  #  Users, passwords and a sudoers file; from setup_file
#################
function setup_users() {
    local p
    MG_USERS_SKIP=
    if ! is_root; then
        MG_USERS_SKIP="needs root: it creates test users and a sudoers file"
    fi
    for p in useradd userdel chpasswd visudo sudo su; do
        if [[ -z $MG_USERS_SKIP ]] && ! command -v "$p" >/dev/null 2>&1; then
            MG_USERS_SKIP="$p is not installed"
        fi
    done
    if [[ -z $MG_USERS_SKIP && ! -d /etc/sudoers.d ]]; then
        MG_USERS_SKIP="/etc/sudoers.d does not exist"
    fi
    export MG_USERS_SKIP
    if [[ -n $MG_USERS_SKIP ]]; then
        return 0
    fi

    # The users are shared by every build directory's run on this machine:
    # hold a lock from here to teardown_users so two runs (two build
    # directories tested at once) never make or remove them under each other.
    if command -v flock >/dev/null 2>&1; then
        exec {MG_USERS_LOCK_FD}>/tmp/mgtest-users.lock
        if ! flock -w 1800 "$MG_USERS_LOCK_FD"; then
            die "another test run held /tmp/mgtest-users.lock for 30 minutes"
            return 1
        fi
    fi

    # Leftovers of an interrupted run.
    _users_remove

    local rnd
    rnd=$(tr -dc a-z0-9 </dev/urandom | head -c 10)
    export MG_PW_A="mgA-$rnd pass 'q\" \$x"
    export MG_PW_B="mgB-$rnd pass 'q\" \$y"
    export MG_PW_C="mgC-$rnd pass 'q\" \$z"

    local u
    for u in "${MG_TEST_USERS[@]}"; do
        useradd -m -s /bin/sh -c "mitogen test user" "$u"
    done
    printf 'mgtest_a:%s\nmgtest_b:%s\nmgtest_c:%s\n' "$MG_PW_A" "$MG_PW_B" "$MG_PW_C" | chpasswd
    MG_HOME_A=$(getent passwd mgtest_a | cut -d: -f6)
    export MG_HOME_A

    # HOME is kept for mgtest_a so that set_home (-H) has something to
    # change: sudo 1.9 resets it by default.
    local tmp
    tmp=$(mktemp)
    cat >"$tmp" <<'EOF'
# Written by tests/cli/users.bash (mitogen); removed after the tests.
Defaults:mgtest_a !lecture, passwd_tries=2
Defaults:mgtest_c !lecture, !authenticate
Defaults>mgtest_a env_keep += "HOME"
mgtest_a ALL=(mgtest_b) ALL
mgtest_c ALL=(mgtest_b) NOPASSWD: ALL
EOF
    if ! visudo -c -q -f "$tmp"; then
        rm -f -- "$tmp"
        _users_remove
        die "the test sudoers file does not pass visudo -c"
        return 1
    fi
    install -m 0440 -o root -g root "$tmp" "$MG_SUDOERS_FILE"
    rm -f -- "$tmp"
}

####################
#  teardown_users  #  From teardown_file
####################
function teardown_users() {
    if [[ -z ${MG_USERS_SKIP:-} ]] && is_root; then
        _users_remove
    fi
    # flock -u releases the lock even if a leftover process inherited the fd.
    if [[ -n ${MG_USERS_LOCK_FD:-} ]]; then
        flock -u "$MG_USERS_LOCK_FD" 2>/dev/null || true
        exec {MG_USERS_LOCK_FD}>&-
        MG_USERS_LOCK_FD=
    fi
}

################
#  need_users  #  Skip this test when setup_users could not make them
################
function need_users() {
    if [[ -n ${MG_USERS_SKIP:-} ]]; then
        skip "$MG_USERS_SKIP"
    fi
}
