#!/usr/bin/env bash
# Stop the one-node test cluster that slurm/start-cluster.sh started: slurmd, then slurmctld.
#
#   bash slurm/stop-cluster.sh           stop the SLURM daemons (munged keeps running; start is then quicker)
#   bash slurm/stop-cluster.sh --all     also stop munged
#   bash slurm/stop-cluster.sh --purge   also forget saved jobs (slurmctld state), so ids restart at 1
#
# Queued jobs are kept in slurmctld's saved state and come back on the next start (unless --purge).
# Daemons are found by their pid files, never by name.
set -euo pipefail

stop_munge=0
purge=0
for arg in "$@"; do
    case "$arg" in
    --all) stop_munge=1 ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--all] [--purge]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "stop-cluster: error: needs root (the daemons run as root)" >&2; exit 1; }

stop() {
    local pidfile=$1 name=$2 pid
    [ -r "$pidfile" ] || { echo "stop-cluster: $name not running (no $pidfile)"; return 0; }
    pid=$(cat "$pidfile")
    if [ -z "$pid" ] || [ "$(ps -o comm= -p "$pid" 2>/dev/null)" != "$name" ]; then
        echo "stop-cluster: $name not running (stale $pidfile)"
        return 0
    fi
    kill "$pid"
    for _ in $(seq 50); do
        [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$name" ] || { echo "stop-cluster: stopped $name ($pid)"; return 0; }
        sleep 0.2
    done
    echo "stop-cluster: error: $name ($pid) still running after 10 s" >&2
    return 1
}

stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
if [ "$stop_munge" = 1 ]; then
    stop /run/munge/munged.pid munged
fi
if [ "$purge" = 1 ]; then
    find /var/lib/slurm/slurmctld -mindepth 1 -delete
    echo "stop-cluster: cleared /var/lib/slurm/slurmctld"
fi
