#!/usr/bin/env bash
# Stop the Slurm + sshd lab that scripts/lab_up.sh started.  Idempotent.
#
#   sudo bash scripts/lab_down.sh [--purge]
#
# - Cancels the lab's jobs through Slurm first (so no job processes outlive their slurmd).
# - Stops exactly the daemons whose pid files lab_up.sh wrote in $LAB/run, each only after
#   checking that the pid's command line is the expected daemon (no pkill/killall).  A munged
#   that lab_up.sh found already running is left alone.
# - Removes the network namespaces and the bridge only if lab_up.sh created them.
# - --purge also deletes $LAB and the config files lab_up.sh wrote ("managed by" marker).
#   The packages and the user skyuser are kept.
#
# Environment:
#   JUPYTER_SKY_LAB=/tmp/jupyter-sky-lab   the lab's state dir (as for lab_up.sh)
set -uo pipefail

LAB=${JUPYTER_SKY_LAB:-/tmp/jupyter-sky-lab}
PURGE=0
[ "${1:-}" = "--purge" ] && PURGE=1
BRIDGE=jskybr0
NODES=(n1 n2)

T0=$(date +%s%N)
elapsed() { local d=$(( ($(date +%s%N) - T0) / 10000000 )); printf '%d.%02d' $((d / 100)) $((d % 100)); }
log() { printf '[lab_down %6ss] %s\n' "$(elapsed)" "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "ERROR: must run as root"; exit 1; }
[ -d "$LAB/run" ] || { log "nothing to stop: no $LAB/run"; exit 0; }
exec 9>"$LAB/run/lock"
flock -w 300 9 || { log "ERROR: another lab_up.sh/lab_down.sh holds $LAB/run/lock"; exit 1; }

pid_state() { sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true; }
# stop <pidfile> <name>: TERM the pid if its command line contains <name>, wait up to 10 s
# (a zombie counts as stopped: PID 1 on this kind of VM reaps late), then KILL.
stop() {
    local pf=$1 name=$2 p st _
    [ -s "$pf" ] || return 0
    p=$(cat "$pf")
    st=$(pid_state "$p")
    if [ -n "$st" ] && [ "$st" != Z ] &&
            tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$name"; then
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 100); do
            st=$(pid_state "$p"); { [ -z "$st" ] || [ "$st" = Z ]; } && break
            sleep 0.05
        done
        st=$(pid_state "$p")
        if [ -n "$st" ] && [ "$st" != Z ]; then
            kill -KILL "$p" 2>/dev/null; log "killed -9 $name ($p)"
        else
            log "stopped $name ($p)"
        fi
    else
        log "skip $pf: pid $p is not a running $name"
    fi
    rm -f "$pf"
}
ours() { [ -s "$LAB/run/$1.pid" ] && [ -n "$(pid_state "$(cat "$LAB/run/$1.pid")")" ]; }

# 1. Cancel the lab's jobs while slurmctld and slurmd still run (KillWait=2 -> gone in ~5 s).
if ours slurmctld && jobs=$(squeue -h -o %A 2>/dev/null) && [ -n "$jobs" ]; then
    log "cancelling jobs: $(tr '\n' ' ' <<< "$jobs")"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 80); do
        [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
        sleep 0.1
    done
fi

# 2. Daemons, login side first.
stop "$LAB/run/sshd.pid" sshd
for n in "${NODES[@]}"; do stop "$LAB/run/slurmd-$n.pid" slurmd; done
stop "$LAB/run/slurmctld.pid" slurmctld
stop "$LAB/run/munged.pid" munged       # present only if lab_up.sh started munged

# 3. Namespaces and bridge, if lab_up.sh created them.
if [ -s "$LAB/run/netns.created" ]; then
    while read -r ns; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns" && log "deleted netns $ns"
    done < "$LAB/run/netns.created"
    rm -f "$LAB/run/netns.created"
fi
if [ -e "$LAB/run/bridge.created" ]; then
    ip link show "$BRIDGE" > /dev/null 2>&1 && ip link del "$BRIDGE" && log "deleted bridge $BRIDGE"
    rm -f "$LAB/run/bridge.created"
fi
if grep -q '# jupyter-sky-lab$' /etc/hosts; then
    # rewritten in place: /etc/hosts may be a bind mount
    grep -v '# jupyter-sky-lab$' /etc/hosts > "$LAB/run/hosts.tmp"
    cat "$LAB/run/hosts.tmp" > /etc/hosts
    rm -f "$LAB/run/hosts.tmp"
    log "removed the nodes from /etc/hosts"
fi
rm -f "$LAB/lab.json"

# 4. --purge: the lab's files and the config files it wrote.
if [ $PURGE = 1 ]; then
    for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
        [ -f "$f" ] && grep -q 'managed by jupyter-sky lab_up.sh' "$f" && rm -f "$f" && log "removed $f"
    done
    case "$LAB" in
        / | "") ;;
        *) rm -rf "$LAB" && log "removed $LAB" ;;
    esac
fi
log "down"
