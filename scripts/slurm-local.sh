#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's packages, for trying the Snakemake
# sweep's SLURM path (docs/sweeps.md) without a cluster; tests/test_sweep_slurm.py uses it too.
#
#   scripts/slurm-local.sh install       apt-get install slurm-wlm slurmdbd munge mariadb-server (root or sudo)
#   scripts/slurm-local.sh up   [DIR]    start munged, MariaDB, slurmdbd, slurmctld, slurmd (as root)
#   scripts/slurm-local.sh env  [DIR]    print the `export` lines the SLURM commands need
#   scripts/slurm-local.sh down [DIR]    stop the daemons `up` started, by the pids it recorded
#
# DIR (default .slurm-local, or $SLURM_LOCAL_DIR) holds everything: configs, the munge key, the
# database, logs, pid files. Outside it only /etc/slurm/slurm.conf is written, as a link to DIR's
# (see `up`), and only where no other SLURM has one; the daemons have their own sockets and ports
# (26817-26820, base from $SLURM_LOCAL_PORT), so a system munge or MariaDB is left alone. The node is this machine as `slurmd -C` sees it (its real CPUs and memory); the
# cluster has accounting (slurmdbd), which the Snakemake plugin needs (it asks `sacct` for job
# states), and one account, `tinykd`, with the calling user in it. Every daemon runs under
# `nice -n 19 ionice -c3`, and so do the jobs (they inherit slurmd's priority).
set -euo pipefail

PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
ACCOUNT=tinykd
CLUSTER=tinykd
PARTITION=local
LOW=(nice -n 19 ionice -c3)

die() { echo "slurm-local: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-${SLURM_LOCAL_DIR:-.slurm-local}}
base=${SLURM_LOCAL_PORT:-26817}
case $base in ''|*[!0-9]*) die "SLURM_LOCAL_PORT=$base is not a port number (1024-65531)";; esac
[ "$base" -ge 1024 ] && [ "$base" -le 65531 ] || die "SLURM_LOCAL_PORT=$base is not in 1024-65531"
CTLD_PORT=$base; SLURMD_PORT=$((base + 1)); DBD_PORT=$((base + 2)); DB_PORT=$((base + 3))

install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && { echo "slurm-local: ${PACKAGES[*]} already installed"; return; }
  command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} with this system's package manager"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install ${missing[*]}"
    sudo=sudo
  fi
  $sudo "${LOW[@]}" apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive "${LOW[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# pid of a daemon of ours if it is alive (its pid file names a process running that program).
alive() {
  local pidfile=$1 prog=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc 0-9 < "$pidfile")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  case $(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)") in
    "$prog" | "$prog-wlm") ;;   # Debian installs slurmctld as slurmctld-wlm behind an alternative
    *) return 1 ;;
  esac
  echo "$pid"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
  local limit=$1 what=$2 deadline=$((SECONDS + $1)); shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up within $limit s; see $dir/log/"
    sleep 0.25
  done
}

step() { echo "slurm-local: [${SECONDS} s] starting $1"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_configs() {
  local node host
  node=$(slurmd -C | head -1)   # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
  host=${node#NodeName=}; host=${host%% *}
  cat > "$dir/etc/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: one node (this machine), accounting through slurmdbd.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
StateSaveLocation=$dir/state/ctld
SlurmdSpoolDir=$dir/state/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups: this runs inside containers and CI machines too.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# For slurmdbd connections AuthInfo is not read: this names their munge socket.
AccountingStoragePass=$dir/run/munge.socket
# As on a real cluster: a job must name an account the user is in.
AccountingStorageEnforce=associations
# sacct shows a job's comment, where the Snakemake plugin names the rule and wildcards.
AccountingStoreFlags=job_comment
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  cat > "$dir/etc/slurmdbd.conf" <<EOF
# Written by scripts/slurm-local.sh.
AuthType=auth/munge
AuthInfo=socket=$dir/run/munge.socket
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$dir/etc/db.pass")
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$dir/etc/slurmdbd.conf"
  # Slurm 23.02 and later start a cgroup plugin in slurmd even with proctrack/linuxproc, and
  # stop when /sys/fs/cgroup is not mounted (a chroot, many containers); they can be told not to.
  # 22.05 never starts it and does not know the setting.
  local version; version=$(slurmd -V | awk '{print $2}')
  if [ "$(printf '%s\n' 23.02 "$version" | sort -V | head -1)" = 23.02 ]; then
    echo "# Written by scripts/slurm-local.sh: no cgroups (see slurm.conf)." > "$dir/etc/cgroup.conf"
    echo "CgroupPlugin=disabled" >> "$dir/etc/cgroup.conf"
  fi
}

up() {
  [ "$(id -u)" = 0 ] || die "up needs root: slurmd starts jobs as their user (run as root, or use sudo)"
  local p
  for p in slurmctld slurmd slurmdbd munged mariadbd mariadb-install-db; do
    command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || [ -x "/usr/bin/$p" ] \
      || die "$p is missing: run \`$0 install\` first"
  done
  export PATH="$PATH:/usr/sbin"
  if alive "$dir/run/slurmctld.pid" slurmctld >/dev/null; then
    echo "slurm-local: already up in $dir"; return
  fi
  for p in $CTLD_PORT $SLURMD_PORT $DBD_PORT $DB_PORT; do
    port_free "$p" || die "port $p is in use (choose another base with SLURM_LOCAL_PORT)"
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir"/{etc,run,log,state/ctld,state/d,db}
  # munged refuses group/world-writable folders on the path to its socket and key.
  chmod 700 "$dir" "$dir"/{etc,run,log}
  export SLURM_CONF=$dir/etc/slurm.conf

  [ -s "$dir/etc/munge.key" ] || { head -c 1024 /dev/urandom > "$dir/etc/munge.key"; chmod 400 "$dir/etc/munge.key"; }
  [ -s "$dir/etc/db.pass" ] || { head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9 > "$dir/etc/db.pass"; chmod 600 "$dir/etc/db.pass"; }
  write_configs
  # The Snakemake jobstep plugin removes SLURM_CONF from the environment of the `srun` it starts
  # inside each job, so srun reads the default /etc/slurm/slurm.conf: that is made a link to ours
  # (and removed by `down`), unless another SLURM's file is there.
  if [ -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
    [ "$(readlink /etc/slurm/slurm.conf)" = "$dir/etc/slurm.conf" ] \
      || die "/etc/slurm/slurm.conf belongs to another SLURM (jobs started by Snakemake would read it); stop that cluster or move the file"
  else
    mkdir -p /etc/slurm
    ln -s "$dir/etc/slurm.conf" /etc/slurm/slurm.conf
  fi

  step munged
  "${LOW[@]}" munged --force --key-file="$dir/etc/munge.key" --socket="$dir/run/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/state/munged.seed"
  wait_for 10 munged bash -c "munge -S '$dir/run/munge.socket' -n | unmunge -S '$dir/run/munge.socket'"

  step MariaDB
  local fresh_db=0
  if [ ! -d "$dir/db/mysql" ]; then
    fresh_db=1
    "${LOW[@]}" mariadb-install-db --no-defaults --datadir="$dir/db" --user=root \
      --auth-root-authentication-method=socket --skip-test-db > "$dir/log/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed; see $dir/log/mariadb-install.log"
  fi
  # The daemons fork themselves; `up` returns once each answers.
  "${LOW[@]}" mariadbd --no-defaults --user=root --datadir="$dir/db" --socket="$dir/run/mysqld.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/run/mariadbd.pid" \
    --log-error="$dir/log/mariadbd.log" --innodb-buffer-pool-size=64M > /dev/null 2>&1 &
  wait_for 60 MariaDB mariadb-admin --no-defaults --socket="$dir/run/mysqld.sock" ping
  # The database is made here, not by slurmdbd: when slurmdbd 24.11 creates it, it reconnects
  # over TLS, and libmariadb 3.4 (Debian 13) then fails its first query with error 5027 ("Number
  # of columns in result (=1) set execeeds maxmimum allowed number of columns (=0)").
  if [ $fresh_db = 1 ]; then
    mariadb --no-defaults --socket="$dir/run/mysqld.sock" -u root <<EOF
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$(cat "$dir/etc/db.pass")';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
CREATE DATABASE slurm_acct_db;
EOF
  fi

  step slurmdbd
  "${LOW[@]}" slurmdbd
  wait_for 60 slurmdbd sacctmgr -n list cluster
  # Cluster, account and user: what `sacctmgr list user $USER` shows the Snakemake plugin.
  local user; user=$(id -un)
  # (root is in the database from the start, with account root; it gets ours as its default.)
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
  sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT" \
    || sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="scripts/slurm-local.sh" organization=local >/dev/null
  sacctmgr -n -P list assoc user="$user" account="$ACCOUNT" format=account | grep -qx "$ACCOUNT" \
    || sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" defaultaccount="$ACCOUNT" >/dev/null

  step slurmctld
  "${LOW[@]}" slurmctld
  wait_for 30 slurmctld scontrol ping
  step slurmd
  "${LOW[@]}" slurmd
  wait_for 60 "slurmd (node idle)" bash -c "sinfo -h -N -o %T | grep -qx idle"
  echo "slurm-local: up in $dir after $SECONDS s (account $ACCOUNT, partition $PARTITION); in your shell:"
  env_lines
}

env_lines() {
  echo "export SLURM_CONF=$dir/etc/slurm.conf PATH=\"\$PATH:/usr/sbin\""
}

down() {
  [ -d "$dir/run" ] || die "$dir/run does not exist: nothing was started there"
  dir=$(cd "$dir" && pwd)
  local name prog pid i stopped=()
  export SLURM_CONF=$dir/etc/slurm.conf PATH="$PATH:/usr/sbin"
  # Jobs first: their slurmstepd processes would outlive slurmd.
  if alive "$dir/run/slurmctld.pid" slurmctld >/dev/null; then
    scancel -u "$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  # Reverse order of `up`: the node, the controller, accounting, the database, authentication.
  for name in slurmd slurmctld slurmdbd mariadbd munged; do
    prog=$name
    pid=$(alive "$dir/run/$name.pid" "$prog") || continue
    kill -TERM "$pid"
    for ((i = 0; i < 120; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
    if [ -d "/proc/$pid" ]; then
      echo "slurm-local: $name ($pid) did not stop within 30 s; sending SIGKILL" >&2
      kill -KILL "$pid"
    fi
    stopped+=("$name:$pid")
  done
  [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/etc/slurm.conf" ] && rm /etc/slurm/slurm.conf
  echo "slurm-local: stopped ${stopped[*]:-nothing (none of its daemons was running)}"
}

case $cmd in
  install) install ;;
  up) up ;;
  env) dir=$(cd "$dir" && pwd); env_lines ;;
  down) down ;;
  *) die "usage: $0 install | up [DIR] | env [DIR] | down [DIR] (got '${cmd}')" ;;
esac
