# -*- bash -*-
#
# A private sshd on 127.0.0.1 for the ssh tests. Load after helpers:
#
#     load helpers
#     load sshd
#     function setup_file() { start_sshd; }
#     function teardown_file() { stop_sshd; }
#     @test "..." { need_sshd; run_mg mitogen-run "$(ssh_hop)" -- id -un; }
#
# start_sshd never fails a file: when sshd cannot run here (not root, not
# installed) it records why in MG_SSHD_SKIP and need_sshd skips each test
# that needs it, so tests that only build argv still run.
#
# The client never reads /root/.ssh or /etc/ssh/ssh_config: every ssh hop
# passes '-F $MG_SSH_CONFIG' through ssh_args (ssh_hop does it). That also
# holds for inner hops, whose ssh runs from an agent with the agent's
# environment, not the test's: a HOME trick would not reach them.
#
# Nor does a session's bash read the machine's ~/.bashrc: sshd sets
# SHLVL=1, and bash, taking itself for a nested shell, skips the file it
# reads for ssh sessions (bash's SSH_SOURCE_BASHRC). root's, on these
# machines, runs `pyenv init`: 0.3 to 0.5 s of CPU on every login, a
# third of 200-ssh.bats's time and fifty logins at once past the connect
# timeout in 510. The login shell still runs every command; KEEP_RC=1
# (the benches' switch) leaves the file in.
#
# Exports:
#   MG_SSH_PORT         the port sshd listens on (127.0.0.1 only)
#   MG_SSH_CONFIG       client config: IdentityFile, UserKnownHostsFile
#   MG_SSH_KNOWN_HOSTS  known_hosts with the host key for [127.0.0.1]:PORT
#   MG_SSH_HOST_PUB     the host public key line ("ssh-ed25519 AAAA...")
#   MG_SSH_CLIENT_KEY   the client private key (authorized for every user)
#   MG_SSHD_DIR         where all of it lives; sshd.log is sshd's log

# Percent-encode a string for a chain option value: '/' would end the
# hop, '&' the option, ',' the chain, '%' starts a code; only letters,
# digits and "._~-" stay as they are.
function mg_pct() {
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

# A port no socket of this machine uses now, below the kernel's range of
# ephemeral ports: a port that an outgoing connection holds as its local
# end (ssh clients of earlier tests) cannot be bound by a listener either.
function _mg_free_port() {
    local port i lo=32768 hi=60999 base=20000 span
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    if ((lo > 11000)); then
        base=10000 span=$((lo - 10000))
    else
        base=$((hi + 1)) span=$((65535 - hi))
    fi
    # An ephemeral range that leaves no room on either side (1024 65535):
    # pick inside it; ss still says whether the port is taken.
    if ((span < 100)); then
        base=$lo span=$((hi - lo + 1))
    fi
    for ((i = 0; i < 100; i++)); do
        port=$((base + RANDOM % span))
        if [[ -z $(ss -Htan "sport = :$port" 2>/dev/null) ]]; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

# Start sshd on $MG_SSHD_DIR/sshd_config, ARGS before it (taskset, say),
# and wait until it listens. sshd forks before it binds, so its status
# says nothing of the port: it writes its pid file once it listens, and
# logs "Cannot bind any address" and exits when the port is taken.
function _mg_sshd_launch() {
    local d=$MG_SSHD_DIR i from=0 pid
    [[ ! -e $d/sshd.log ]] || from=$(stat -c %s "$d/sshd.log")
    rm -f "$d/sshd.pid"
    "$@" /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" || return 1
    for ((i = 0; i < 200; i++)); do
        if [[ -s $d/sshd.pid ]]; then
            pid=$(<"$d/sshd.pid")
            kill -0 "$pid" 2>/dev/null && return 0
        fi
        if tail -c +$((from + 1)) "$d/sshd.log" 2>/dev/null | grep -q 'Cannot bind'; then
            return 1
        fi
        sleep 0.05
    done
    return 1
}

################
#  start_sshd  #  Keys, configs and a daemon; call from setup_file
################
function start_sshd() {
    MG_SSHD_SKIP=
    if ! is_root; then
        MG_SSHD_SKIP="needs root: sshd must run as root to log users in"
    elif [[ ! -x /usr/sbin/sshd ]]; then
        MG_SSHD_SKIP="/usr/sbin/sshd is not installed (apt-get install openssh-server)"
    elif ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
        MG_SSHD_SKIP="ssh or ssh-keygen is not installed (apt-get install openssh-client)"
    elif ! command -v ss >/dev/null; then
        MG_SSHD_SKIP="ss is not installed (apt-get install iproute2)"
    fi
    export MG_SSHD_SKIP
    if [[ -n $MG_SSHD_SKIP ]]; then
        return 0
    fi

    MG_SSHD_DIR=$BATS_FILE_TMPDIR/sshd
    mkdir -p "$MG_SSHD_DIR"
    local d=$MG_SSHD_DIR
    ssh-keygen -q -t ed25519 -N '' -C mg-test-host -f "$d/host_key" >/dev/null
    ssh-keygen -q -t ed25519 -N '' -C mg-test-client -f "$d/client_key" >/dev/null
    cp "$d/client_key.pub" "$d/authorized_keys"
    MG_SSH_HOST_PUB=$(cut -d' ' -f1,2 "$d/host_key.pub")
    # Debian's sshd wants its privilege separation directory.
    mkdir -p /run/sshd
    chmod 755 /run/sshd

    local port tries
    for ((tries = 0; tries < 10; tries++)); do
        port=$(_mg_free_port) || break
        # The absolute AuthorizedKeysFile works for root whatever its
        # home; %h serves test users, who may not read $BATS_FILE_TMPDIR.
        cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys %h/.ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
LogLevel VERBOSE
SyslogFacility AUTH
# As Debian's default sshd_config: a client's SendEnv LC_* arrives.
AcceptEnv LANG LC_*
EOF
        [[ -n ${KEEP_RC:-} ]] || echo "SetEnv SHLVL=1" >>"$d/sshd_config"
        if _mg_sshd_launch; then
            break
        fi
        port=
    done
    if [[ -z $port ]]; then
        MG_SSHD_SKIP="sshd did not start: $(tail -3 "$d/sshd.log" 2>/dev/null)"
        return 0
    fi

    MG_SSH_PORT=$port
    MG_SSH_KNOWN_HOSTS=$d/known_hosts
    MG_SSH_CONFIG=$d/ssh_config
    MG_SSH_CLIENT_KEY=$d/client_key
    printf '[127.0.0.1]:%s %s\n' "$port" "$MG_SSH_HOST_PUB" >"$MG_SSH_KNOWN_HOSTS"
    # Everything a run needs, nothing from the machine's own setup.
    cat >"$MG_SSH_CONFIG" <<EOF
Host *
    IdentityFile $d/client_key
    UserKnownHostsFile $MG_SSH_KNOWN_HOSTS
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    HashKnownHosts no
    UpdateHostKeys no
    CheckHostIP no
    ControlMaster no
    ControlPath none
    ForwardAgent no
    ForwardX11 no
EOF
    export MG_SSHD_DIR MG_SSH_PORT MG_SSH_CONFIG MG_SSH_KNOWN_HOSTS MG_SSH_HOST_PUB MG_SSH_CLIENT_KEY
}

###############
#  stop_sshd  #  Call from teardown_file
###############
function stop_sshd() {
    local pid
    if [[ -n ${MG_SSHD_DIR:-} && -s $MG_SSHD_DIR/sshd.pid ]]; then
        pid=$(<"$MG_SSHD_DIR/sshd.pid")
        # The listener only: sessions of a failed test end with their clients.
        kill "$pid" 2>/dev/null || true
        rm -f "$MG_SSHD_DIR/sshd.pid"
    fi
}

###############
#  need_sshd  #  Skip this test when start_sshd could not start sshd
###############
function need_sshd() {
    if [[ -n ${MG_SSHD_SKIP:-} || -z ${MG_SSH_PORT:-} ]]; then
        skip "${MG_SSHD_SKIP:-start_sshd was not called in setup_file}"
    fi
}

#############
#  ssh_hop  #  An ssh hop to the test sshd: ssh_hop [USER] [OPTION=VALUE...]
#############
#
# USER may be empty. Options are appended as given (values already
# percent-encoded, see mg_pct). -F $MG_SSH_CONFIG always comes first in
# ssh_args; further ssh_args= options add words after it.
function ssh_hop() {
    local user=${1:-}
    shift || true
    local hop
    hop="ssh:${user:+$user@}127.0.0.1:$MG_SSH_PORT?ssh_args=$(mg_pct "-F $MG_SSH_CONFIG")"
    local o
    for o in "$@"; do
        hop+="&$o"
    done
    printf '%s\n' "$hop"
}
