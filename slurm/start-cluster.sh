#!/usr/bin/env bash
# Start a real one-node SLURM cluster (munged + slurmctld + slurmd on this host) for tests and CI.
#
# Idempotent: a second run with the cluster up and the same configuration only prints the summary line.
# Needs root on Debian (apt-get installs slurm-wlm and munge when they are missing); anything else exits 1
# with a message that says what is missing. Stop it with slurm/stop-cluster.sh.
#
# Settings (environment, all optional):
#   ARCHCORR_SLURM_PARTITION       partition name                        (default: local)
#   ARCHCORR_SLURM_MAX_ARRAY_SIZE  MaxArraySize; indices run 0..N-1      (default: 1001, SLURM's own default
#                                  and what many sites keep; a sweep bigger than that must be split)
#   ARCHCORR_SLURM_WAIT_S          seconds to wait for the node to be up (default: 60)
set -euo pipefail

PARTITION="${ARCHCORR_SLURM_PARTITION:-local}"
MAX_ARRAY_SIZE="${ARCHCORR_SLURM_MAX_ARRAY_SIZE:-1001}"
WAIT_S="${ARCHCORR_SLURM_WAIT_S:-60}"

CONF=/etc/slurm/slurm.conf
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_KEY=/etc/munge/munge.key

started_at=$(date +%s)
say() { echo "start-cluster: $*"; }
die() { echo "start-cluster: error: $*" >&2; exit 1; }

# The node as sinfo reports it: "<state>" (idle, mixed, allocated, down*, drained, ...) or nothing.
node_state() { sinfo -h -N -n "$(hostname -s)" -o '%T' 2>/dev/null | head -n 1; }
node_is_up() { case "$(node_state)" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac; }

summary() {
    local max_array
    max_array=$(scontrol show config 2>/dev/null | awk -F'= *' '/^MaxArraySize/ {print $2}')
    local node
    node=$(sinfo -h -N -o '%N cpus=%c mem=%mMB state=%T' | head -n 1)
    echo "slurm cluster up: partition=${PARTITION} node=${node} MaxArraySize=${max_array}" \
        "($1, $(($(date +%s) - started_at)) s)"
}

# A daemon is running when its pid file names a live process with the expected command name.
running() {
    local pidfile=$1 name=$2 pid
    [ -r "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$name" ]
}

stop_daemon() {
    local pidfile=$1 name=$2 pid
    running "$pidfile" "$name" || return 0
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 50); do
        running "$pidfile" "$name" || return 0
        sleep 0.2
    done
    die "$name (pid $pid) did not stop within 10 s"
}

if [ "$(id -u)" != 0 ]; then
    if command -v sinfo >/dev/null && node_is_up; then
        summary "already running; not root, configuration not checked"
        exit 0
    fi
    die "starting the test cluster needs root (it installs packages and starts munged, slurmctld, slurmd)"
fi

# ---- packages -------------------------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for cmd in munged slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null ||
        die "missing ${missing[*]} and no apt-get here; install slurm-wlm and munge (Debian/Ubuntu names)"
    say "installing slurm-wlm munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge failed"
fi

# ---- munge ----------------------------------------------------------------------------------------------
if [ ! -s "$MUNGE_KEY" ]; then
    install -d -o munge -g munge -m 700 /etc/munge
    (umask 277 && head -c 1024 /dev/urandom >"$MUNGE_KEY")
    chown munge:munge "$MUNGE_KEY"
    chmod 400 "$MUNGE_KEY"
    say "created $MUNGE_KEY"
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
    # As the munge user first; as root with --force (which accepts loose ownership) as the fallback.
    runuser -u munge -- munged 2>/dev/null || munged --force ||
        die "munged did not start; see /var/log/munge/munged.log"
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null 2>&1 || die "munged started but credentials do not round-trip"
fi

# ---- slurm.conf -----------------------------------------------------------------------------------------
host=$(hostname -s)
# slurmd -C prints this machine's real line, e.g. "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105".
node_line=$(slurmd -C | head -n 1)
[[ "$node_line" == NodeName=* ]] || die "slurmd -C printed no node line: $node_line"
real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
# Leave the OS a little memory (10 %, at most 2 GiB) so the node is never drained for "Low RealMemory".
reserve=$((real_mem / 10 < 2048 ? real_mem / 10 : 2048))
node_line=$(sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e "s/RealMemory=[0-9]*/RealMemory=$((real_mem - reserve))/" \
    <<<"$node_line")

# Containers do not always list their own hostname in /etc/hosts: then name the loopback address.
ctld_host=$host
if ! getent hosts "$host" >/dev/null; then
    ctld_host="$host(127.0.0.1)"
    node_line="$node_line NodeAddr=127.0.0.1"
fi

new_conf=$(mktemp)
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
# Written by slurm/start-cluster.sh: a one-node test cluster. Edit the script, not this file.
ClusterName=archcorr
SlurmctldHost=$ctld_host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job may not start again before its credential expires (default 120 s); 10 s keeps the
# submitit requeue path (USR2 -> checkpoint -> scontrol requeue -> run again) quick.
AuthInfo=cred_expire=10
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true

# State and logs
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# No accounting daemon: sacct fails here (submitit then logs "Bypassing sacct error" and carries on).
# Finished jobs are appended to a text log instead, which outlives MinJobAge.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log

# Scheduling: cores and memory are consumable, so array tasks share the node; every job gets
# DefMemPerCPU unless it asks (without it one job would take the node's whole memory).
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1,sched_min_interval=200000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MaxArraySize=$MAX_ARRAY_SIZE
MaxJobCount=20000

# Short timeouts so tests are quick; requeue allowed (submitit's Checkpointable uses scontrol requeue).
JobRequeue=1
KillWait=5
MinJobAge=120
InactiveLimit=0
Waittime=0
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=30
UnkillableStepTimeout=30

$node_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

changed=0
if ! cmp -s "$new_conf" "$CONF"; then
    install -D -m 644 "$new_conf" "$CONF"
    changed=1
fi
install -d -m 755 "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"

# ---- daemons --------------------------------------------------------------------------------------------
what="already running"
if [ "$changed" = 1 ]; then
    running "$CTLD_PID" slurmctld && what="restarted with a new $CONF"
    # A new configuration: restart what is running. Saved state keeps queued and running jobs.
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
fi
if ! running "$CTLD_PID" slurmctld; then
    slurmctld || die "slurmctld did not start; log tail:$(echo; tail -n 20 "$LOG_DIR/slurmctld.log" 2>/dev/null)"
    [ "$what" = "already running" ] && what="started"
fi
if ! running "$SLURMD_PID" slurmd; then
    slurmd || die "slurmd did not start; log tail:$(echo; tail -n 20 "$LOG_DIR/slurmd.log" 2>/dev/null)"
    [ "$what" = "already running" ] && what="started"
fi

deadline=$(($(date +%s) + WAIT_S))
resumed=0
until node_is_up; do
    state=$(node_state)
    # A node left down or drained by an earlier run comes back by hand (ReturnToService covers the rest).
    if [ "$resumed" = 0 ] && [[ "$state" == down* || "$state" == drain* ]]; then
        scontrol update NodeName="$host" State=RESUME 2>/dev/null || true
        resumed=1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "start-cluster: error: node $host not up after ${WAIT_S} s (sinfo state: '${state:-no answer}')" >&2
        for log in slurmctld slurmd; do
            echo "--- $LOG_DIR/$log.log (last 15 lines)" >&2
            tail -n 15 "$LOG_DIR/$log.log" >&2 2>/dev/null || true
        done
        exit 1
    fi
    sleep 0.5
done
summary "$what"
