#!/usr/bin/env bash
# A real single-node SLURM for the ensemble tests (tests/ensemble/test_slurm.py):
# installs Debian's slurm-wlm and munge if missing (as root), writes a cgroup-free
# slurm.conf for this host (2 CPUs), and starts munged, slurmctld and slurmd.
# Idempotent: daemons already answering are left alone. Without root or apt it prints
# why and exits 0, and the SLURM tests skip with that reason.
set -uo pipefail

say() { echo "start_slurm: $*" >&2; }

if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "sbatch is missing and cannot be installed here (needs root and apt-get); SLURM tests will skip"
        exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq slurm-wlm munge >/dev/null \
        || { say "apt-get install slurm-wlm munge failed; SLURM tests will skip"; exit 0; }
fi

if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    say "SLURM is up already"; exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "SLURM is not running and starting it needs root; SLURM tests will skip"
    exit 0
fi

host=$(hostname -s)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
conf=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > "$conf" <<CONF
# written by .ci/start_slurm.sh: one node, no cgroups, no accounting
ClusterName=texsynth-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MaxArraySize=1001
KillWait=5
MinJobAge=30
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# no cgroup.conf: proctrack/linuxproc and task/none put no job in a cgroup (slurmd 22.05
# still probes the cgroup version at start, which works without the file)

if [ ! -s /etc/munge/munge.key ]; then
    (command -v mungekey >/dev/null && mungekey --create) \
        || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    if id munge >/dev/null 2>&1; then
        su -s /bin/sh munge -c "munged --force" 2>/dev/null || munged --force
    else
        munged --force
    fi
fi
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 30); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        say "SLURM is up on $host (2 CPUs)"; exit 0
    fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
say "SLURM did not come up (see /var/log/slurm/); SLURM tests will skip"
sinfo >&2 || true
exit 0
