#!/bin/bash
# Simulated multi-node Slurm cluster for rlaunch tests, on one Linux host
# (needs root, no systemd).  Every "node" is its own network namespace (own IP
# on a private bridge) plus its own UTS namespace (own hostname) running its
# own slurmd.  slurmctld, a private munged and all clients (srun, sbatch,
# sinfo...) live in the root namespace.  Fake GPUs come through gres, so
# `srun --gpus-per-node=N` sets CUDA_VISIBLE_DEVICES; mpi/pmix is usable.
#
#   slurm-sim.sh up N [CPUS_PER_NODE] [GPUS_PER_NODE]   (defaults: 2 2 4)
#   slurm-sim.sh down     tear everything down (safe when nothing is up)
#   slurm-sim.sh env      print the export lines for clients:
#                           eval "$(tests/cluster/slurm-sim.sh env)"
#
# Nodes are named n1..nN (hostnames too), at $SIM_NET.11, .12, ...; the
# bridge (root namespace) is $SIM_NET.1.  All traffic stays on that bridge.
#
# Tunables (env); the defaults are specific to rlaunch so they do not collide
# with another simulated cluster (e.g. ../shared/reference/slurm-sim.sh):
#   SIM_BASE        state dir, removed by down       (/tmp/rlaunch-slurm-sim)
#   SIM_NET         first 3 octets of the /24          (10.231.7)
#   SIM_BR          bridge name                        (rlsimbr0)
#   SIM_NS_PREFIX   network namespace prefix           (rlsim-)
#   SIM_VETH        veth name prefix                   (vrl)
#   SIM_CTLD_PORT   slurmctld port, root namespace     (16817)
#   SIM_SLURMD_PORT slurmd port, inside each node ns   (16818)
#   SIM_CLUSTER     ClusterName                        (rlsim)
#   SIM_ETC_HOSTS=1 also add "IP nX" lines to /etc/hosts (removed by down).
#                   Not needed: slurm reaches nodes by NodeAddr.  (0)
#   SIM_UP_TIMEOUT  seconds to wait for the nodes to become idle (30)
set -Eeuo pipefail

BASE=${SIM_BASE:-/tmp/rlaunch-slurm-sim}
NET=${SIM_NET:-10.231.7}
BR=${SIM_BR:-rlsimbr0}
NS_PREFIX=${SIM_NS_PREFIX:-rlsim-}
VETH=${SIM_VETH:-vrl}
CTLD_PORT=${SIM_CTLD_PORT:-16817}
SLURMD_PORT=${SIM_SLURMD_PORT:-16818}
CLUSTER=${SIM_CLUSTER:-rlsim}
ETC_HOSTS=${SIM_ETC_HOSTS:-0}
UP_TIMEOUT=${SIM_UP_TIMEOUT:-30}
CTL_IP=$NET.1
CONF=$BASE/etc/slurm.conf
MARK="# rlaunch-slurm-sim $BASE"

log() { echo "[slurm-sim] $*" >&2; }
die() { log "$*"; exit 1; }

case $BASE in /?*/*|/tmp?*) ;; *) die "refusing SIM_BASE='$BASE' (down runs rm -rf on it)";; esac

node_ip() { echo "$NET.$((10 + $1))"; }

# alive = exists and is not a zombie.  PID 1 on these machines reaps orphans
# lazily, so a killed daemon can linger as a zombie and fool "kill -0".
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

wait_dead() {   # wait_dead PID [tenths]: until PID is gone (or a zombie)
    local i
    for ((i = 0; i < ${2:-100}; i++)); do alive "$1" || return 0; sleep 0.1; done
    return 1
}

KILLED=()   # PIDs down killed: it waits for them to be reaped at the end

kill_pidfile() {   # kill_pidfile FILE [GRACE_TENTHS]: the PID a daemon recorded
    local f=$1 pid
    [ -s "$f" ] || { rm -f "$f"; return 0; }
    pid=$(cat "$f")
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
        KILLED+=("$pid")
        kill "$pid" 2>/dev/null || true
        wait_dead "$pid" "${2:-50}" || { kill -9 "$pid" 2>/dev/null || true; wait_dead "$pid" 20 || true; }
    fi
    rm -f "$f"
}

any_present() { local p; for p in "$@"; do [ -e "/proc/$p" ] && return 0; done; return 1; }

strip_hosts() {   # rewrite in place (keeps the inode: /etc/hosts may be a bind mount)
    grep -qF -- "$MARK" /etc/hosts 2>/dev/null || return 0
    local t
    t=$(grep -vF -- "$MARK" /etc/hosts || true)
    printf '%s\n' "$t" > /etc/hosts
}

our_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX" || true; }
our_veths() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${VETH}[0-9]+p?\$" || true; }

dump_logs() {
    local f
    for f in "$BASE"/log/*.log; do
        [ -e "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
    return 0
}

down() {
    local ns jobs pid v i
    trap - ERR INT TERM
    export SLURM_CONF=$CONF
    # cancel jobs so that attached srun/salloc clients exit on their own
    if [ -s "$BASE/run/slurmctld.pid" ] && alive "$(cat "$BASE/run/slurmctld.pid")"; then
        jobs=$(timeout 5 squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086  # one job id per word
            timeout 5 scancel $jobs 2>/dev/null || true
            for _ in $(seq 40); do
                [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    # any client still talking to this cluster (it has our SLURM_CONF)
    # shellcheck disable=SC2013  # /proc paths: one word each
    for pid in $(grep -lzxF -- "SLURM_CONF=$CONF" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
        [ "$pid" = $$ ] && continue
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
            srun|salloc|sbatch|sattach|scancel|squeue|sinfo|scontrol)
                KILLED+=("$pid"); kill -9 "$pid" 2>/dev/null || true ;;
        esac
    done
    # slurmd (+ every slurmstepd and job task) lives inside our node
    # namespaces: kill exactly the PIDs that are members of those namespaces.
    for ns in $(our_netns); do
        # (short grace: a slurmd still trying to register ignores TERM for
        # MessageTimeout, and everything in the namespace gets -9 below anyway)
        kill_pidfile "$BASE/run/slurmd-${ns#"$NS_PREFIX"}.pid" 10
        for pid in $(ip netns pids "$ns" 2>/dev/null); do KILLED+=("$pid"); kill -9 "$pid" 2>/dev/null || true; done
        for pid in $(ip netns pids "$ns" 2>/dev/null); do wait_dead "$pid" 30 || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    kill_pidfile "$BASE/run/slurmctld.pid"
    kill_pidfile "$BASE/run/munged.pid"
    ip link del "$BR" 2>/dev/null || true
    for v in $(our_veths); do ip link del "$v" 2>/dev/null || true; done
    strip_hosts
    rm -rf "$BASE"
    # PID 1 here reaps orphans lazily: give it a moment so that "ps -e" right
    # after down shows no <defunct> daemons of ours (zombies hold no resources).
    for ((i = 0; i < 50; i++)); do
        any_present "${KILLED[@]}" || break
        sleep 0.1
    done
    log "down"
}

up() {
    local n=${1:-2} cpus=${2:-2} gpus=${3:-4} i name ip ns hn idle
    [[ $n =~ ^[1-9][0-9]*$ && $n -le 200 ]] || die "bad node count '$n'"
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "bad CPUS '$cpus'"
    [[ $gpus =~ ^[0-9]+$ ]] || die "bad GPUS '$gpus'"
    for i in munged slurmctld slurmd srun sinfo ip nsenter unshare; do
        command -v "$i" >/dev/null || die "missing '$i' (apt-get install slurm-wlm munge libpmix-dev iproute2)"
    done
    # never tear down somebody's running cluster because "up" was called twice
    if [ -e "$BASE" ] || ip link show "$BR" >/dev/null 2>&1 || [ -n "$(our_netns)" ]; then
        die "already up (or leftovers of $BASE / $BR / ${NS_PREFIX}*): run '$0 down' first"
    fi
    hn=$(hostname -s)
    trap 'log "up failed (line $LINENO), tearing down"; dump_logs; down; exit 1' ERR
    trap 'log "interrupted, tearing down"; down; exit 130' INT TERM
    mkdir -p "$BASE"/{etc,run,log,ctld,spool,tmp,munge,dev}
    chmod 755 "$BASE" "$BASE/munge"   # munged wants the socket dir world-executable

    # ---- munge: private daemon, private key, private socket ----------------
    dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$BASE/munge/munge.key"
    munged --force --key-file="$BASE/munge/munge.key" \
        --socket="$BASE/munge/munge.sock" --pid-file="$BASE/run/munged.pid" \
        --log-file="$BASE/log/munged.log" --seed-file="$BASE/munge/munged.seed"

    # ---- network: bridge in the root namespace -------------------------------
    ip link add "$BR" type bridge
    ip addr add "$CTL_IP/24" dev "$BR"
    ip link set "$BR" up

    # fake GPU device nodes: gres File= must be a char/block device (a regular
    # file gives "not a valid character or block device").  Never opened.
    for ((i = 0; i < gpus; i++)); do mknod "$BASE/dev/gpu$i" c 195 "$i"; done

    # ---- config --------------------------------------------------------------
    : > "$BASE/etc/plugstack.conf"
    cat > "$CONF" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$hn($CTL_IP)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$BASE/munge/munge.sock
StateSaveLocation=$BASE/ctld
SlurmdSpoolDir=$BASE/spool/%n
# per-node TmpFS: mpi/pmix puts its client dir (spmix_appdir_UID_JOB.STEP) in
# TmpFS; a shared /tmp makes the 2nd node fail with "File exists (17)"
TmpFS=$BASE/tmp/%n
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd-%n.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd-%n.log
SlurmdDebug=info
SlurmctldDebug=info
PlugStackConfig=$BASE/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
InactiveLimit=0
KillWait=2
MinJobAge=5
SlurmdTimeout=300
SlurmctldTimeout=300
MessageTimeout=10
GresTypes=gpu
EOF
    echo "AutoDetect=off" > "$BASE/etc/gres.conf"
    local gres=""
    if [ "$gpus" -gt 0 ]; then gres=" Gres=gpu:$gpus"; fi
    for ((i = 1; i <= n; i++)); do
        echo "NodeName=n$i NodeAddr=$(node_ip "$i") NodeHostname=n$i CPUs=$cpus RealMemory=1000$gres State=UNKNOWN" >> "$CONF"
    done
    if [ "$gpus" -gt 0 ]; then
        echo "NodeName=n[1-$n] Name=gpu File=$BASE/dev/gpu[0-$((gpus - 1))]" >> "$BASE/etc/gres.conf"
    fi
    echo "PartitionName=sim Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >> "$CONF"
    export SLURM_CONF=$CONF

    if [ "$ETC_HOSTS" = 1 ]; then
        for ((i = 1; i <= n; i++)); do echo "$(node_ip "$i") n$i $MARK" >> /etc/hosts; done
    fi

    # ---- slurmctld (root namespace) -----------------------------------------
    slurmctld -f "$CONF" -i   # -i: ignore stale state

    # ---- one netns + UTS ns + slurmd per node -------------------------------
    for ((i = 1; i <= n; i++)); do
        name=n$i ns=$NS_PREFIX$name ip=$(node_ip "$i")
        ip netns add "$ns"
        ip link add "$VETH$i" type veth peer name "$VETH${i}p"
        ip link set "$VETH${i}p" netns "$ns"
        ip link set "$VETH$i" master "$BR" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$VETH${i}p" name eth0
        ip -n "$ns" addr add "$ip/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add default via "$CTL_IP"
        mkdir -p "$BASE/spool/$name" "$BASE/tmp/$name"
        # slurmd daemonizes; it (and every slurmstepd/task it forks) stays in
        # the node's net + uts namespaces.  Use nsenter, NOT "ip netns exec":
        # the latter remounts /sys, hiding /sys/fs/cgroup, and slurmd 22.05
        # then dies with "Unable to initialize cgroup plugin".
        nsenter --net="/run/netns/$ns" -- unshare --uts -- \
            sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' sh "$name" "$CONF"
    done

    # ---- wait for all nodes idle --------------------------------------------
    # (sinfo fails until slurmctld listens, and hangs MessageTimeout if
    # something else owns its port: bound it, and never let it trip ERR)
    local deadline=$((SECONDS + UP_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        idle=$(timeout 3 sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l) || idle=0
        if [ -s "$BASE/run/slurmctld.pid" ] && ! alive "$(cat "$BASE/run/slurmctld.pid")"; then
            log "slurmctld died (port $CTLD_PORT taken? see its log)"
            break
        fi
        if [ "$idle" -ge "$n" ]; then
            trap - ERR INT TERM
            log "up: $n nodes idle (n[1-$n], $cpus CPUs, $gpus GPUs each); SLURM_CONF=$CONF"
            return 0
        fi
        sleep 0.1
    done
    log "cluster did not come up (nodes idle: ${idle:-0}/$n, waited up to ${UP_TIMEOUT}s)"
    timeout 3 sinfo -N -l >&2 || true
    dump_logs
    down
    exit 1
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 up N [CPUS] [GPUS] | down | env" >&2; exit 2 ;;
esac
