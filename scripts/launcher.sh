#!/bin/sh
# newretail launcher, installed by install.sh as /usr/local/bin/newretail: runs the current
# release (/opt/newretail/current) on the Deno runtime it carries, with the permissions its
# configuration needs (see: newretail permissions --help). `newretail rollback` is handled here:
# it returns to the previous release and to the database copy taken before the upgrade.
#
# Installed under a scratch root (install.sh --root DIR) it runs from that root: the program
# from DIR/opt/newretail and, unless --config is given, the config DIR/etc/newretail/config.json
# with its state in DIR/var/lib/newretail.
set -eu
SELF=$(readlink -f "$0")
ROOT=${SELF%/usr/local/bin/*}
[ "$ROOT" != "$SELF" ] || ROOT=""
LIB=$ROOT/opt/newretail

say() { printf 'newretail: %s\n' "$*"; }
die() {
  printf 'newretail: error: %s\n' "$*" >&2
  exit 1
}

# rollback: swap current back to previous; put the database copy back (the newer one is kept).
rollback() {
  case "${1:-}" in
  -h | --help)
    echo "newretail rollback: return to the release before the last upgrade and to the copy of the"
    echo "embedded database taken before its migrations; restarts the service. Run as root."
    return 0
    ;;
  "") ;;
  *) die "rollback takes no arguments (newretail rollback --help)" ;;
  esac
  [ -L "$LIB/previous" ] || die "no previous release in $LIB/previous: nothing to roll back to (rollback goes back one upgrade)"
  now=$(basename "$(readlink "$LIB/current")")
  prev=$(basename "$(readlink "$LIB/previous")")
  [ -d "$LIB/releases/$prev" ] || die "the previous release $prev is missing from $LIB/releases"
  if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then die "run as root: sudo newretail rollback"; fi
  running=0
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet newretail.service; then running=1; fi
    systemctl stop newretail.service 2>/dev/null || true
  fi
  db="" copy=""
  if [ -f "$LIB/releases/$now/UPGRADED_FROM" ]; then
    db=$(sed -n 's/^database=//p' "$LIB/releases/$now/UPGRADED_FROM")
    copy=$(sed -n 's/^copy=//p' "$LIB/releases/$now/UPGRADED_FROM")
  fi
  if [ -n "$copy" ]; then
    [ -d "$ROOT$copy" ] || die "the database copy $copy taken before the upgrade is missing: nothing changed"
    rm -rf "$ROOT$db.after-$now"
    if [ -d "$ROOT$db" ]; then mv "$ROOT$db" "$ROOT$db.after-$now" || die "cannot move $db aside"; fi
    cp -a "$ROOT$copy" "$ROOT$db" || die "cannot copy $copy to $db"
    restored="restored the embedded database copied before the upgrade ($copy) into $db; the $now database is kept in $db.after-$now"
  elif [ "$db" = postgres ]; then
    restored="the PostgreSQL database was not changed: if $now migrated it, $prev will refuse it until the pg_dump taken before the upgrade is restored (newretail restore FILE)"
  else
    restored="no database copy was taken at that upgrade: the database was not changed"
  fi
  ln -sfn "releases/$prev" "$LIB/current.new" && mv -T "$LIB/current.new" "$LIB/current" ||
    die "cannot switch $LIB/current to $prev"
  rm -f "$LIB/previous"
  say "rolled back from $now to $prev; $restored"
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1; then
    systemctl start newretail.service || die "$prev did not start: journalctl -u newretail -n 50"
    say "started newretail $prev"
  elif [ "$running" = 0 ] && [ -n "$ROOT" ]; then
    say "scratch root: start it with $SELF serve"
  fi
}

if [ "${1:-}" = rollback ]; then
  shift
  rollback "$@"
  exit 0
fi

if [ -n "$ROOT" ] && [ -z "${NEWRETAIL_CONFIG_FILE:-}" ]; then
  case " $* " in
  *" --config "* | *" --config="*) ;;
  *)
    export NEWRETAIL_CONFIG_FILE="$ROOT/etc/newretail/config.json"
    export NEWRETAIL_STATE_DIR="${NEWRETAIL_STATE_DIR:-$ROOT/var/lib/newretail}"
    ;;
  esac
fi
RELEASE=$(readlink -f "$LIB/current") || die "no release installed in $LIB (run install.sh)"
[ -f "$RELEASE/newretail.js" ] || die "no release installed in $LIB (run install.sh)"
# Deno's own cache (compiled code): the unit's CacheDirectory, also for commands run by hand.
export DENO_DIR="${DENO_DIR:-$ROOT/var/cache/newretail/deno}" DENO_NO_UPDATE_CHECK=1
# The runtime's settings, the same as scripts/runtime_settings.ts gives `deno task start`: two
# malloc arenas (glibc's default, 8 per core, keeps the native memory a login storm freed
# resident across the runtime's threads) and a young generation of 4 MB semi-spaces instead of
# up to 32 MB (bench/RESULTS.md, issue 26: RSS with 10,000 logged-in devices).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
V8="--v8-flags=--max-semi-space-size=4"
set -- "${@:-serve}"
DENO="$RELEASE/bin/deno"
RUN="run --quiet --no-config --no-lock --no-remote --no-npm --unstable-net --no-prompt"
# shellcheck disable=SC2086 # RUN is a list of flags
flags=$("$DENO" $RUN --allow-read --allow-env "$RELEASE/newretail.js" permissions -- "$@")
nl='
'
IFS=$nl
set -f
# shellcheck disable=SC2086 # one flag per line
exec "$DENO" run --quiet --no-config --no-lock --no-remote --no-npm --unstable-net --no-prompt "$V8" $flags "$RELEASE/newretail.js" "$@"
