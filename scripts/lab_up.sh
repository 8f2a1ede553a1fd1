#!/usr/bin/env bash
# Start a local Slurm cluster "lab" and an SSH login host for the slurm/ssh tests. Idempotent.
#
#   sudo bash scripts/lab_up.sh          # stop with: sudo bash scripts/lab_down.sh
#
# What it builds (Debian 12, root, no systemd needed):
#
#   login host (this machine, root network namespace)
#     sshd       127.0.0.1:2222, key-only, user skyuser (key generated into $LAB/ssh)
#     slurmctld  cluster "lab", reachable at 10.213.0.1 (bridge jskybr0)
#     munged     shared by every node (its socket is a file; the mount namespace is shared)
#   compute nodes (each slurmd in its own network + UTS namespace, so hostname and
#   loopback differ from the login host, like a real cluster)
#     n1  10.213.0.11  netns jsky-n1  4 CPUs  gpu:a100:1,gpu:t4:1
#     n2  10.213.0.12  netns jsky-n2  4 CPUs  gpu:t4:2
#   partitions: cpu (default), gpu - both on n1,n2
#   /etc/hosts: n1, n2 -> their addresses (lines marked "# jupyter-sky-lab")
#
# Fake GPUs are symlinks to /dev/null (a character device, so slurmd accepts them and jobs
# get CUDA_VISIBLE_DEVICES).  The node's loopback is NOT the login host's: a service on a
# compute node is reached from the login host at the node's address (10.213.0.1x), and a
# compute node reaches the login host at 10.213.0.1 (not 127.0.0.1).
#
# Steps: install missing packages -> munged -> slurm.conf/gres.conf -> namespaces ->
# slurmctld, slurmd n1/n2 -> nodes idle -> skyuser + keys + sshd -> smoke test over SSH
# (only when something was started) -> $LAB/lab.json -> last line:
#   LAB_READY ssh_port=2222 user=skyuser key=<path> nodes=n1,n2 partitions=cpu,gpu
#
# Re-running while everything is up restarts nothing (only a health check, < 2 s).  A changed
# config restarts only the Slurm daemons.  Daemons started here are recorded in $LAB/run/*.pid;
# lab_down.sh stops exactly those.  All progress goes to stderr; stdout gets only LAB_READY.
#
# Exit status: 0 ready, 3 the packages could not be installed, 1 anything else.
#
# Environment:
#   JUPYTER_SKY_LAB=/tmp/jupyter-sky-lab   state dir: pid files, logs, keys, job output, lab.json
set -euo pipefail

LAB=${JUPYTER_SKY_LAB:-/tmp/jupyter-sky-lab}
SSH_PORT=2222
SKYUSER=skyuser
CLUSTER=lab
KILLWAIT=2
BRIDGE=jskybr0            # interface names are private to this lab (<= 15 chars)
SUBNET=10.213.0           # only exists on the bridge and namespaces created here
LOGIN_ADDR=$SUBNET.1      # the login host as seen from the compute nodes
NODES=(n1 n2)
declare -A NODE_ADDR=([n1]=$SUBNET.11 [n2]=$SUBNET.12)
declare -A NODE_GPUS=([n1]="a100:1,t4:1" [n2]="t4:2")   # type:count, comma separated
NODE_CPUS=4               # declared, not real (config_overrides): same lab on every machine
NODE_MEM_MB=4000
PARTITIONS=(cpu gpu)
PKGS="slurmctld slurmd slurm-client munge openssh-server openssh-client iproute2 util-linux procps"

T0=$(date +%s%N)
elapsed() { local d=$(( ($(date +%s%N) - T0) / 10000000 )); printf '%d.%02d' $((d / 100)) $((d % 100)); }
log() { printf '[lab_up %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { log "ERROR: $*"; exit "${EXIT_CODE:-1}"; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"
mkdir -p "$LAB"/{run,log}
chmod 755 "$LAB"
# One lab_up/lab_down at a time (parallel test sessions may call us together).
exec 9>"$LAB/run/lock"
flock -w 300 9 || die "another lab_up.sh/lab_down.sh holds $LAB/run/lock"

STARTED=()   # daemons started by this run (goes into lab.json)

# ---------------------------------------------------------------- helpers
# pid_state <pid>: the one-letter process state (R, S, Z, ...) or nothing if gone
pid_state() { sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true; }
# alive <pidfile> <name>: the pid in the file runs (not a zombie) and its command line has <name>
alive() {
    local pf=$1 name=$2 p st
    [ -s "$pf" ] || return 1
    p=$(cat "$pf")
    st=$(pid_state "$p")
    [ -n "$st" ] && [ "$st" != Z ] || return 1
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$name"
}
# stop <pidfile> <name>: TERM, wait up to 10 s (a zombie counts as gone: PID 1 may reap
# late), then KILL.  Only if the pid's command line matches.
stop() {
    local pf=$1 name=$2 p st i
    alive "$pf" "$name" || { rm -f "$pf"; return 0; }
    p=$(cat "$pf")
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 100); do
        st=$(pid_state "$p"); { [ -z "$st" ] || [ "$st" = Z ]; } && break
        sleep 0.1
    done
    st=$(pid_state "$p")
    if [ -n "$st" ] && [ "$st" != Z ]; then kill -KILL "$p" 2>/dev/null || true; fi
    rm -f "$pf"
}
# wait_for <seconds> <what> <command...>: poll every 0.1 s until the command succeeds
wait_for() {
    local t=$1 what=$2; shift 2
    local end=$(( $(date +%s) + t ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timeout after ${t}s waiting for $what (logs: $LAB/log)"
        sleep 0.1
    done
}
# daemon <command...>: start a self-daemonizing server without our lock (fd 9) or our
# stdout/stderr (a caller reading our output would otherwise wait for the daemon to exit)
daemon() { "$@" < /dev/null >> "$LAB/log/daemons.out" 2>&1 9>&-; }
# wait_daemon <seconds> <name> <pidfile> <logfile> <command...>: like wait_for, but gives up
# at once, showing the log's tail, when the daemon has exited (a config error is fatal)
wait_daemon() {
    local t=$1 name=$2 pf=$3 lf=$4; shift 4
    local end=$(( $(date +%s) + t )) seen=0 st
    until "$@" > /dev/null 2>&1; do
        if [ -s "$pf" ]; then
            seen=1; st=$(pid_state "$(cat "$pf")")
        fi
        if { [ $seen = 1 ] && { [ -z "$st" ] || [ "$st" = Z ]; }; } || [ "$(date +%s)" -ge "$end" ]; then
            tail -n 5 "$lf" >&2 2>/dev/null
            die "$name did not come up (log: $lf)"
        fi
        sleep 0.1
    done
}
# write_if_changed <dst> <mode> <owner> < content: returns 0 when the file changed
write_if_changed() {
    local dst=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -f "$dst" ] && cmp -s "$tmp" "$dst"; then rm -f "$tmp"; return 1; fi
    if [ -f "$dst" ] && ! grep -q 'managed by jupyter-sky lab_up.sh' "$dst"; then
        cp -p "$dst" "$dst.bak.$(date +%s)"      # someone else's file: keep a copy
    fi
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$dst"
    rm -f "$tmp"
}

# ---------------------------------------------------------------- 1. packages
# one dpkg-query for all (a package never installed is reported on stderr only)
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null | awk '/ok installed$/ {print $1}' || true)
missing=""
for p in $PKGS; do
    grep -qx "$p" <<< "$installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    log "installing:$missing"
    # Keep apt from starting the distro's own munge/sshd: we run our own daemons.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
              -o Dpkg::Options::=--force-confold)
    # apt-get update only when needed: first try the package lists already on the machine.
    apt_install() {
        # shellcheck disable=SC2086
        apt-get "${apt_opts[@]}" install -y -q --no-install-recommends $missing >> "$LAB/log/apt.log" 2>&1
    }
    : > "$LAB/log/apt.log"
    if ! apt_install; then
        log "apt-get update"
        if ! { apt-get "${apt_opts[@]}" update -q >> "$LAB/log/apt.log" 2>&1 && apt_install; }; then
            [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
            tail -n 20 "$LAB/log/apt.log" >&2
            EXIT_CODE=3 die "apt-get install failed (log: $LAB/log/apt.log)"
        fi
    fi
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    log "installed: $(dpkg-query -W -f='${Package}=${Version} ' slurmctld munge openssh-server)"
fi

mkdir -p "$LAB"/{state,spool,jobs,ssh,gpus} /run/munge /run/sshd /etc/slurm
chown slurm:slurm "$LAB/state" "$LAB/log"
chmod 1777 "$LAB/jobs"          # shared scratch for job output (any user)
chmod 700 "$LAB/ssh"
chown munge:munge /run/munge

# ---------------------------------------------------------------- 2. munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating the munge key"
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if munge -n 2>/dev/null | unmunge > /dev/null 2>&1; then
    : # a munged is running (ours, or the machine's own): reuse it
else
    rm -f /run/munge/munge.socket.2.lock
    daemon runuser -u munge -- /usr/sbin/munged
    wait_for 10 munged sh -c 'munge -n | unmunge'
    cp /run/munge/munged.pid "$LAB/run/munged.pid"   # ours: lab_down.sh stops it
    STARTED+=(munged)
    log "munged started (pid $(cat "$LAB/run/munged.pid"))"
fi

# ---------------------------------------------------------------- 3. slurm.conf, gres.conf
LOGIN=$(hostname -s)      # slurmctld only starts on the host named in SlurmctldHost
node_lines="" gres_lines=""
for n in "${NODES[@]}"; do
    # "a100:1,t4:1" -> Gres=gpu:a100:1,gpu:t4:1 and one gres.conf line per type; the
    # fake device files are numbered per node (nvidia0, nvidia1, ...) in declaration order.
    gres="" idx=0
    mkdir -p "$LAB/gpus/$n"
    IFS=, read -r -a specs <<< "${NODE_GPUS[$n]}"
    for spec in "${specs[@]}"; do
        type=${spec%%:*} count=${spec##*:}
        gres="${gres:+$gres,}gpu:$type:$count"
        first=$idx
        for ((i = 0; i < count; i++)); do
            ln -sfn /dev/null "$LAB/gpus/$n/nvidia$idx"; idx=$((idx + 1))
        done
        files="$LAB/gpus/$n/nvidia$first"
        [ "$count" -gt 1 ] && files="$LAB/gpus/$n/nvidia[$first-$((idx - 1))]"
        gres_lines+="NodeName=$n Name=gpu Type=$type File=$files"$'\n'
    done
    node_lines+="NodeName=$n NodeAddr=${NODE_ADDR[$n]} NodeHostname=$n CPUs=$NODE_CPUS"
    node_lines+=" RealMemory=$NODE_MEM_MB Gres=$gres State=UNKNOWN"$'\n'
done
NODELIST=$(IFS=,; echo "${NODES[*]}")

conf_changed=0
write_if_changed /etc/slurm/slurm.conf 644 root:root <<EOF && conf_changed=1
# managed by jupyter-sky lab_up.sh - rewritten on every run; see scripts/lab_up.sh
ClusterName=$CLUSTER
SlurmctldHost=$LOGIN($LOGIN_ADDR)
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$LAB/state
SlurmdSpoolDir=$LAB/spool/%n
SlurmctldPidFile=$LAB/run/slurmctld.pid
SlurmdPidFile=$LAB/run/slurmd-%n.pid
SlurmctldLogFile=$LAB/log/slurmctld.log
SlurmdLogFile=$LAB/log/slurmd-%n.log
# No cgroups: plain process tracking, no task binding (works on any host layout).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# The default 3 s delay before a batch job is considered; 0 leaves Slurm's 1 s tick.
SchedulerParameters=batch_sched_delay=0
# Nodes declare CPUs/memory below, whatever the machine has.
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# SIGTERM -> SIGKILL after 2 s on scancel/time limit (default 30 s).
KillWait=$KILLWAIT
MinJobAge=3600
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
${node_lines}PartitionName=cpu Nodes=$NODELIST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODELIST MaxTime=INFINITE State=UP
EOF
write_if_changed /etc/slurm/gres.conf 644 root:root <<EOF && conf_changed=1
# managed by jupyter-sky lab_up.sh - fake GPUs: symlinks to /dev/null
AutoDetect=off
${gres_lines%$'\n'}
EOF
if [ $conf_changed = 1 ]; then
    log "slurm config written; restarting Slurm daemons that run"
    for n in "${NODES[@]}"; do stop "$LAB/run/slurmd-$n.pid" slurmd; done
    stop "$LAB/run/slurmctld.pid" slurmctld
fi

# ---------------------------------------------------------------- 4. network namespaces
# bridge jskybr0 (login host = .1) <- veth -> eth0 in netns jsky-<node> (.11, .12).
# No default route, no NAT: the nodes see only the bridge.
ip link show "$BRIDGE" > /dev/null 2>&1 || {
    ip link add "$BRIDGE" type bridge
    touch "$LAB/run/bridge.created"
}
ip addr replace "$LOGIN_ADDR/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for n in "${NODES[@]}"; do
    ns=jsky-$n
    if [ ! -e "/run/netns/$ns" ]; then
        ip netns add "$ns"
        echo "$ns" >> "$LAB/run/netns.created"
    fi
    if ! ip link show "vh-$ns" > /dev/null 2>&1; then
        ip link add "vh-$ns" type veth peer name eth0 netns "$ns"
    fi
    ip link set "vh-$ns" master "$BRIDGE" up
    ip -n "$ns" addr replace "${NODE_ADDR[$n]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

# Node names resolve on the login host and on the nodes (shared /etc/hosts), as on a real
# cluster: a client tunnels to <node>:<port>.  Lines are marked and removed by lab_down.sh;
# /etc/hosts is rewritten in place (it may be a bind mount).
hosts_lines=""
for n in "${NODES[@]}"; do hosts_lines+="${NODE_ADDR[$n]} $n  # jupyter-sky-lab"$'\n'; done
if [ "$(grep '# jupyter-sky-lab$' /etc/hosts || true)" != "${hosts_lines%$'\n'}" ]; then
    { grep -v '# jupyter-sky-lab$' /etc/hosts || true; printf '%s' "$hosts_lines"; } > "$LAB/run/hosts.tmp"
    cat "$LAB/run/hosts.tmp" > /etc/hosts
    rm -f "$LAB/run/hosts.tmp"
fi

# ---------------------------------------------------------------- 5. Slurm daemons
if ! alive "$LAB/run/slurmctld.pid" slurmctld; then
    if scontrol ping 2>/dev/null | grep -q UP; then
        die "a slurmctld that lab_up.sh did not start already answers (stop it first)"
    fi
    daemon slurmctld
    wait_daemon 15 slurmctld "$LAB/run/slurmctld.pid" "$LAB/log/slurmctld.log" \
        sh -c 'scontrol ping | grep -q UP'
    STARTED+=(slurmctld)
    log "slurmctld started (pid $(cat "$LAB/run/slurmctld.pid"))"
fi
for n in "${NODES[@]}"; do
    alive "$LAB/run/slurmd-$n.pid" slurmd && continue
    # nsenter --net, not `ip netns exec`: the latter remounts /sys and slurmd then aborts
    # ("No filesystem mounted on /sys/fs/cgroup").  unshare --uts gives the node its hostname.
    daemon nsenter --net="/run/netns/jsky-$n" unshare --uts sh -c "hostname $n && exec slurmd -N $n"
    wait_daemon 10 "slurmd $n" "$LAB/run/slurmd-$n.pid" "$LAB/log/slurmd-$n.log" \
        test -s "$LAB/run/slurmd-$n.pid"
    STARTED+=("slurmd-$n")
    log "slurmd $n started in netns jsky-$n (pid $(cat "$LAB/run/slurmd-$n.pid"))"
done
# Wait until every node is idle; resume nodes an earlier config left DRAIN/DOWN/INVAL
# (that state survives restarts).
resumed=0 end=$(( $(date +%s) + 30 ))
while :; do
    states=$(sinfo -h -N -n "$NODELIST" -o '%N %T' 2>/dev/null | sort -u || true)
    bad=$(awk '$2 !~ /^(idle|mixed|allocated|completing)$/' <<< "$states")
    [ -n "$states" ] && [ -z "$bad" ] && break
    if [ $resumed = 0 ] && grep -qE 'drain|down|inval|fail' <<< "$bad"; then
        while read -r n st; do
            log "resuming node $n ($st)"
            scontrol update nodename="$n" state=resume 2>/dev/null || true
        done <<< "$bad"
        resumed=1
    fi
    [ "$(date +%s)" -lt "$end" ] || { echo "$states" >&2; die "nodes not idle after 30 s"; }
    sleep 0.1
done

# ---------------------------------------------------------------- 6. login user, keys, sshd
S=$LAB/ssh
if ! id "$SKYUSER" > /dev/null 2>&1; then
    # Debian's skeleton .bashrc returns at once for non-interactive shells: no slow rc files.
    useradd --create-home --shell /bin/bash "$SKYUSER"
    log "user $SKYUSER created"
fi
# useradd locks the password ("!"), and sshd with UsePAM=no refuses locked accounts;
# "*" means: no password login, but the account is usable with a key.
[ "$(getent shadow "$SKYUSER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$SKYUSER"
[ -s "$S/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C jupyter-sky-lab-host -f "$S/host_ed25519_key"
[ -s "$S/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$SKYUSER@jupyter-sky-lab" -f "$S/id_ed25519"
chmod 600 "$S/id_ed25519" "$S/host_ed25519_key"
home=$(getent passwd "$SKYUSER" | cut -d: -f6)
install -d -m 700 -o "$SKYUSER" -g "$SKYUSER" "$home/.ssh"
write_if_changed "$home/.ssh/authorized_keys" 600 "$SKYUSER:$SKYUSER" < "$S/id_ed25519.pub" || true
# For clients: a known_hosts line for the lab's host key and an ssh_config alias "lab".
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1-2 "$S/host_ed25519_key.pub")" |
    write_if_changed "$S/known_hosts" 644 root:root || true
write_if_changed "$S/config" 644 root:root <<EOF || true
# managed by jupyter-sky lab_up.sh: \`ssh -F $S/config $CLUSTER\`
Host $CLUSTER
    HostName 127.0.0.1
    Port $SSH_PORT
    User $SKYUSER
    IdentityFile $S/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $S/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOF
sshd_changed=0
write_if_changed "$S/sshd_config" 644 root:root <<EOF && sshd_changed=1
# managed by jupyter-sky lab_up.sh
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $S/host_ed25519_key
PidFile $LAB/run/sshd.pid
# key-only, one ordinary user
AllowUsers $SKYUSER
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
# Nothing that adds latency or buffering per command: no DNS lookups, no motd/last-login,
# no compression.  (TCP_NODELAY itself is set by the client; sshd sets it only for ptys.)
UseDNS no
PrintMotd no
PrintLastLog no
Compression no
# tests open many sessions and channels at once
MaxSessions 64
MaxStartups 64:30:128
# forwarding: the tests tunnel to kernels on compute nodes (direct-tcpip)
AllowTcpForwarding yes
X11Forwarding no
ClientAliveInterval 15
ClientAliveCountMax 4
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel INFO
EOF
/usr/sbin/sshd -t -f "$S/sshd_config" || die "sshd rejects $S/sshd_config"
if alive "$LAB/run/sshd.pid" sshd; then
    if [ $sshd_changed = 1 ]; then
        kill -HUP "$(cat "$LAB/run/sshd.pid")"
        log "sshd reloaded"
    fi
else
    # absolute path: sshd re-executes itself
    daemon /usr/sbin/sshd -f "$S/sshd_config" -E "$LAB/log/sshd.log" ||
        { tail -n 5 "$LAB/log/sshd.log" >&2; die "sshd did not start (port $SSH_PORT busy?)"; }
    wait_for 5 "sshd pid file" test -s "$LAB/run/sshd.pid"
    STARTED+=(sshd)
    log "sshd started on 127.0.0.1:$SSH_PORT (pid $(cat "$LAB/run/sshd.pid"))"
fi

# ---------------------------------------------------------------- 7. checks over SSH
SSH=(ssh -F "$S/config" "$CLUSTER")
if [ ${#STARTED[@]} -gt 0 ] || [ $conf_changed = 1 ] || [ $sshd_changed = 1 ]; then
    # Something (re)started: a job step on both nodes, launched over SSH as the user.
    wait_for 10 "ssh key login as $SKYUSER" "${SSH[@]}" true
    out=$("${SSH[@]}" "srun -N2 -l hostname | sort") || die "smoke job over SSH failed"
    [ "$out" = $'0: n1\n1: n2' ] || die "smoke job printed: $out"
    log "smoke job over SSH ok (srun -N2 on n1,n2)"
else
    "${SSH[@]}" true || die "ssh key login as $SKYUSER failed"
fi

# ---------------------------------------------------------------- 8. lab.json + ready line
json_list() { local s="" x; for x in "$@"; do s+="${s:+, }\"$x\""; done; echo "[$s]"; }
nodes_json="" types=()
for n in "${NODES[@]}"; do
    IFS=, read -r -a specs <<< "${NODE_GPUS[$n]}"
    gres=$(printf 'gpu:%s,' "${specs[@]}")
    for spec in "${specs[@]}"; do types+=("${spec%%:*}"); done
    nodes_json+="${nodes_json:+,}"$'\n'"    \"$n\": {\"addr\": \"${NODE_ADDR[$n]}\", \"netns\": \"jsky-$n\","
    nodes_json+=" \"cpus\": $NODE_CPUS, \"gres\": \"${gres%,}\"}"
done
mapfile -t types < <(printf '%s\n' "${types[@]}" | sort -u)
cat > "$LAB/lab.json.tmp" <<EOF
{
  "cluster": "$CLUSTER",
  "lab_dir": "$LAB",
  "login_host": "$LOGIN",
  "login_addr": "$LOGIN_ADDR",
  "ssh_host": "127.0.0.1",
  "ssh_port": $SSH_PORT,
  "user": "$SKYUSER",
  "key": "$S/id_ed25519",
  "known_hosts": "$S/known_hosts",
  "ssh_config": "$S/config",
  "ssh_alias": "$CLUSTER",
  "nodes": {$nodes_json
  },
  "partitions": $(json_list "${PARTITIONS[@]}"),
  "default_partition": "${PARTITIONS[0]}",
  "gpu_types": $(json_list "${types[@]}"),
  "jobs_dir": "$LAB/jobs",
  "slurm_conf": "/etc/slurm/slurm.conf",
  "kill_wait_s": $KILLWAIT,
  "slurm_version": "$(sinfo -V | awk '{print $2}')",
  "started": $(json_list "${STARTED[@]}"),
  "setup_s": $(elapsed)
}
EOF
mv "$LAB/lab.json.tmp" "$LAB/lab.json"
log "ready (started: ${STARTED[*]:-nothing})"
echo "LAB_READY ssh_port=$SSH_PORT user=$SKYUSER key=$S/id_ed25519 nodes=$NODELIST partitions=$(IFS=,; echo "${PARTITIONS[*]}")"
