#!/bin/sh
# The power-cut guest's init: PID 1 of a user-mode Linux guest (faults/_uml.ts) whose root is the
# host's, read-only. It boots the way a store's mini PC does after the power returns: checks and
# mounts the state disk (ext4 replays its journal), brings the network up, starts PostgreSQL when
# the store runs on it, then starts the appliance by the installed launcher as the systemd unit
# does (ExecStart=/usr/local/bin/newretail serve; Restart=on-failure after RestartSec=2s). The
# guest runs no systemd: this script is its start-up path.
#
# Its settings come from the kernel command line (the kernel hands NAME=value to init as its
# environment): NR_ROOT the appliance's install root (install.sh --root), NR_NET the guest's
# address (10.215.x.y/30), NR_DB pglite or postgres, NR_PG_BIN PostgreSQL's programs, NR_WATCH_DB
# 1 to say when the embedded database's directory appears.
# Everything it says starts with "GUEST " on the console, which the host records.
set -u
say() { echo "GUEST $*"; }
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH TMPDIR=/run/tmp HOME=/run/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=755 run /run
mkdir -p /run/tmp /run/disk /dev/shm
mount -t tmpfs shm /dev/shm

# What a boot does with a file system that was not unmounted: an automatic check (-p: only what
# is safe without a person), then the mount. An exit status of 4 or more needs a person: report it.
e2fsck -p /dev/ubda >/run/fsck.log 2>&1
status=$?
say "fsck exit $status"
if [ "$status" -ge 4 ]; then
  say "the state disk needs a manual repair: $(tail -n 3 /run/fsck.log | tr '\n' ' ')"
  exec poweroff -f
fi
mount -t ext4 /dev/ubda /run/disk || {
  say "the state disk did not mount"
  exec poweroff -f
}
mkdir -p /run/disk/lib /run/disk/cache
mount --bind /run/disk/lib "$NR_ROOT/var/lib/newretail"
mount --bind /run/disk/cache "$NR_ROOT/var/cache/newretail"
ip link set lo up
ip addr add "$NR_NET" dev vec0
ip link set vec0 up
say "up after $(cut -d' ' -f1 /proc/uptime) s"

if [ "$NR_DB" = postgres ]; then
  # postgresql.service: the host's PostgreSQL programs, the cluster on the state disk.
  PGDATA=/run/disk/pg
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA"
    runuser -u postgres -- "$NR_PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres >/run/initdb.log 2>&1 ||
      say "initdb failed: $(tail -n 3 /run/initdb.log | tr '\n' ' ')"
    echo "host all all 0.0.0.0/0 trust" >>"$PGDATA/pg_hba.conf"
    sync
  fi
  mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql
  runuser -u postgres -- "$NR_PG_BIN/postgres" -D "$PGDATA" -c listen_addresses='*' \
    -c unix_socket_directories=/run/postgresql >/run/postgresql.log 2>&1 &
  until "$NR_PG_BIN/pg_isready" -q -h 127.0.0.1; do sleep 0.2; done
  say "postgresql ready after $(cut -d' ' -f1 /proc/uptime) s"
  if [ ! -f /run/disk/lib/demo-loaded ]; then
    "$NR_ROOT/usr/local/bin/newretail" seed-demo && touch /run/disk/lib/demo-loaded && sync
  fi
fi

# The lab's cue for a cut during a new store's first start: the database directory appeared.
if [ "${NR_WATCH_DB:-}" = 1 ]; then
  (
    until [ -e "$NR_ROOT/var/lib/newretail/db/PG_VERSION" ]; do sleep 0.05; done
    say "database directory appeared"
  ) &
fi

while :; do
  "$NR_ROOT/usr/local/bin/newretail" serve
  say "appliance exited $?"
  sleep 2
done
