#!/bin/sh
# newretail installer. Run from the unpacked release (what newretail-VERSION-linux-ARCH.run
# unpacks and runs, or dist/newretail/ of deno task bundle), as root:
#
#   sudo ./install.sh                 install or upgrade, enable the systemd unit
#   sudo ./install.sh --uninstall     remove the program and the unit; keep config and data
#   ./install.sh --root DIR           the same into a scratch root (for tests and image builds)
#
# Installs the compiled binary `newretail` when it is beside this script, else the bundle
# (newretail.js + PGlite's files) with a Deno runtime (bin/deno of the release, --deno PATH, or
# the `deno` on PATH) as /opt/newretail/releases/VERSION, pointed to by /opt/newretail/current.
# An upgrade keeps the previous release (/opt/newretail/previous) and copies the embedded
# database before the new release migrates it: `newretail rollback` returns to both.
# Idempotent: a second run changes nothing and says so. Never overwrites an existing config.
set -eu

usage() {
  cat <<'EOF'
Usage: install.sh [--root DIR] [--deno PATH] [--no-start] [--uninstall] [--help]

  --root DIR    install into DIR instead of / (no systemctl calls, no service start)
  --deno PATH   Deno runtime to install with the bundle (default: the release's bin/deno,
                else `deno` on PATH)
  --no-start    do not (re)start the service after installing
  --uninstall   remove program, launcher and unit; keep /etc/newretail and /var/lib/newretail
EOF
}

say() { printf 'newretail install: %s\n' "$*"; }
die() {
  printf 'newretail install: error: %s\n' "$*" >&2
  exit 1
}

ROOT=""
DENO_SRC=""
UNINSTALL=0
START=1
while [ $# -gt 0 ]; do
  case "$1" in
  --root)
    [ $# -ge 2 ] || die "--root needs a directory"
    ROOT=$2
    shift 2
    ;;
  --root=*)
    ROOT=${1#--root=}
    shift
    ;;
  --deno)
    [ $# -ge 2 ] || die "--deno needs a path"
    DENO_SRC=$2
    shift 2
    ;;
  --deno=*)
    DENO_SRC=${1#--deno=}
    shift
    ;;
  --no-start)
    START=0
    shift
    ;;
  --uninstall)
    UNINSTALL=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    die "unknown option: $1"
    ;;
  esac
done

if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT is not a directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != "/" ] || ROOT=""
fi
REAL=0
[ -n "$ROOT" ] || REAL=1
if [ "$REAL" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0), or use --root DIR for a scratch install"
fi

SRC=$(cd "$(dirname "$0")" && pwd)
LIB=/opt/newretail
BIN=/usr/local/bin/newretail
UNIT=/etc/systemd/system/newretail.service
WANTS=/etc/systemd/system/multi-user.target.wants/newretail.service
SYSUSERS=/usr/lib/sysusers.d/newretail.conf
CONF_DIR=/etc/newretail
STATE_DIR=/var/lib/newretail
CACHE_DIR=/var/cache/newretail
CHANGED=0

# put SRC DEST MODE: copies when the content differs (atomically: a running process keeps its
# old file), sets the mode either way, and says which.
put() {
  if [ -f "$ROOT$2" ] && cmp -s "$1" "$ROOT$2"; then
    current=$(stat -c %a "$ROOT$2")
    if [ "$current" != "$3" ]; then
      chmod "$3" "$ROOT$2" || die "cannot chmod $2"
      say "mode of $2 set to $3"
      CHANGED=1
    fi
    return 0
  fi
  mkdir -p "$(dirname "$ROOT$2")" || die "cannot create $(dirname "$2")"
  cp "$1" "$ROOT$2.new.$$" || die "cannot copy $1 to $2"
  chmod "$3" "$ROOT$2.new.$$" || die "cannot chmod $2"
  mv -f "$ROOT$2.new.$$" "$ROOT$2" || die "cannot move $2 into place"
  say "installed $2"
  CHANGED=1
}

# dir PATH MODE [OWNER]: creates a directory, fixing mode (and owner, as uid:gid) when they differ.
# The docs/ pages the README links to, beside the installed README (when the release has them).
put_docs() {
  if [ -d "$SRC/docs" ]; then
    for f in "$SRC"/docs/*; do
      if [ -f "$f" ]; then put "$f" "$1/$(basename "$f")" 644; fi
    done
  fi
}

dir() {
  if [ ! -d "$ROOT$1" ]; then
    mkdir -p "$ROOT$1" || die "cannot create $1"
    say "created $1"
    CHANGED=1
  fi
  if [ "$(stat -c %a "$ROOT$1")" != "$2" ]; then
    chmod "$2" "$ROOT$1" || die "cannot chmod $1"
    CHANGED=1
  fi
  if [ $# -ge 3 ] && [ -n "$3" ] && [ "$(id -u)" = 0 ]; then
    if [ "$(stat -c %u:%g "$ROOT$1")" != "$3" ]; then
      chown "$3" "$ROOT$1" || die "cannot chown $1"
      CHANGED=1
    fi
  fi
}

remove() {
  if [ -e "$ROOT$1" ] || [ -L "$ROOT$1" ]; then
    rm -rf "$ROOT$1" || die "cannot remove $1"
    say "removed $1"
    CHANGED=1
  fi
}

if [ "$UNINSTALL" = 1 ]; then
  if [ "$REAL" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -f "$UNIT" ]; then
    systemctl disable --now newretail.service 2>/dev/null || say "warning: could not stop/disable the service"
  fi
  remove "$WANTS"
  remove "$UNIT"
  remove "$BIN"
  remove "$LIB"
  remove "$SYSUSERS"
  if [ "$REAL" = 1 ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload || true; fi
  [ "$CHANGED" = 1 ] || say "nothing to remove: newretail is not installed"
  say "kept $CONF_DIR (configuration) and $STATE_DIR (data) and the newretail user; remove them by hand to erase everything"
  exit 0
fi

# What to install.
if [ -f "$SRC/newretail" ] && [ -x "$SRC/newretail" ]; then
  MODE=binary
elif [ -f "$SRC/newretail.js" ]; then
  MODE=bundle
  for f in pglite_worker.js pglite.wasm initdb.wasm pglite.data VERSION launcher.sh; do
    [ -f "$SRC/$f" ] || die "$SRC/$f is missing: rebuild with deno task bundle"
  done
  VERSION=$(cat "$SRC/VERSION")
  case "$VERSION" in "" | */* | .*) die "$SRC/VERSION does not hold a version" ;; esac
  REL=$LIB/releases/$VERSION
  if [ -z "$DENO_SRC" ] && [ -x "$SRC/bin/deno" ]; then DENO_SRC=$SRC/bin/deno; fi
  if [ -z "$DENO_SRC" ]; then
    DENO_SRC=$(command -v deno 2>/dev/null) ||
      die "no Deno runtime: use the release file newretail-VERSION-linux-ARCH.run (it carries one), install deno, or pass --deno PATH"
  fi
  DENO_SRC=$(readlink -f "$DENO_SRC") || die "--deno $DENO_SRC not found"
  [ -x "$DENO_SRC" ] || die "--deno $DENO_SRC is not an executable"
else
  die "nothing to install in $SRC: expected newretail (compiled) or newretail.js (deno task bundle)"
fi
for f in newretail.service config.example.json; do
  [ -f "$SRC/$f" ] || die "$SRC/$f is missing from the release"
done
say "installing the $MODE from $SRC into ${ROOT:-/}"

# The service user. sysusers.d is what systemd uses at boot too; useradd where it is absent.
TMP=$(mktemp -d) || die "cannot create a temporary directory"
trap 'rm -rf "$TMP"' EXIT
printf 'u newretail - "newretail store appliance" %s /usr/sbin/nologin\n' "$STATE_DIR" >"$TMP/sysusers"
put "$TMP/sysusers" "$SYSUSERS" 644
PASSWD="$ROOT/etc/passwd"
if ! grep -q '^newretail:' "$PASSWD" 2>/dev/null; then
  if command -v systemd-sysusers >/dev/null 2>&1; then
    if [ -n "$ROOT" ]; then
      mkdir -p "$ROOT/etc"
      systemd-sysusers --root="$ROOT" "$ROOT$SYSUSERS" >"$TMP/sysusers.log" 2>&1 ||
        die "cannot create the newretail user: $(tail -n 1 "$TMP/sysusers.log")"
    else
      systemd-sysusers "$SYSUSERS" >"$TMP/sysusers.log" 2>&1 ||
        die "cannot create the newretail user: $(tail -n 1 "$TMP/sysusers.log")"
    fi
  elif [ "$REAL" = 1 ]; then
    useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin newretail ||
      die "cannot create the newretail user"
  else
    die "systemd-sysusers is needed for --root (apt-get install systemd)"
  fi
  grep -q '^newretail:' "$PASSWD" || die "the newretail user was not created in $PASSWD"
  say "created user newretail"
  CHANGED=1
fi
OWNER=$(awk -F: '$1 == "newretail" { print $3 ":" $4 }' "$PASSWD")
CONF_OWNER=$(awk -F: '$1 == "newretail" { print "0:" $4 }' "$PASSWD")

# Directories: config readable by the service's group only, data owned by the service.
dir "$CONF_DIR" 750 "$CONF_OWNER"
dir "$STATE_DIR" 750 "$OWNER"
dir "$CACHE_DIR" 750 "$OWNER"

# Program.
if [ "$MODE" = binary ]; then
  put "$SRC/newretail" "$BIN" 755
  remove "$LIB/newretail.js"
  for f in VERSION README.md; do
    if [ -f "$SRC/$f" ]; then put "$SRC/$f" "$LIB/$f" 644; fi
  done
  put_docs "$LIB/docs"
  put "$SRC/config.example.json" "$LIB/config.example.json" 644
else
  # A release of the older flat layout (/opt/newretail/newretail.js) becomes the previous one.
  if [ -f "$ROOT$LIB/newretail.js" ] && [ ! -e "$ROOT$LIB/current" ]; then
    old=$(cat "$ROOT$LIB/VERSION" 2>/dev/null || echo unknown)
    [ "$old" != "$VERSION" ] || old="$old-flat"
    mkdir -p "$ROOT$LIB/releases/$old" || die "cannot create $LIB/releases/$old"
    for f in newretail.js pglite_worker.js pglite.wasm initdb.wasm pglite.data pglite-template.tar.gz bin VERSION README.md config.example.json; do
      if [ -e "$ROOT$LIB/$f" ]; then mv "$ROOT$LIB/$f" "$ROOT$LIB/releases/$old/" || die "cannot move $LIB/$f"; fi
    done
    ln -s "releases/$old" "$ROOT$LIB/current" || die "cannot link $LIB/current"
    say "moved the installed release $old to $LIB/releases/$old"
    CHANGED=1
  fi
  for f in newretail.js pglite_worker.js pglite.wasm initdb.wasm pglite.data VERSION config.example.json newretail.service; do
    put "$SRC/$f" "$REL/$f" 644
  done
  # The pre-initialised embedded database, when the release carries it (the appliance looks
  # for it beside newretail.js).
  for f in pglite-template.tar.gz README.md prometheus-alerts.yml grafana-dashboard.json; do
    if [ -f "$SRC/$f" ]; then put "$SRC/$f" "$REL/$f" 644; fi
  done
  put_docs "$REL/docs"
  put "$DENO_SRC" "$REL/bin/deno" 755
  # The launcher asks the bundle for the permissions the current config needs (with read and
  # env only), then runs it with exactly those: editing the config never needs a reinstall.
  put "$SRC/launcher.sh" "$BIN" 755
fi

# Configuration: from the example the first time only.
if [ -f "$ROOT$CONF_DIR/config.json" ]; then
  say "kept the existing $CONF_DIR/config.json"
else
  cp "$SRC/config.example.json" "$ROOT$CONF_DIR/config.json.new.$$" || die "cannot write $CONF_DIR/config.json"
  chmod 640 "$ROOT$CONF_DIR/config.json.new.$$"
  if [ "$(id -u)" = 0 ]; then chown "$CONF_OWNER" "$ROOT$CONF_DIR/config.json.new.$$" || die "cannot chown $CONF_DIR/config.json"; fi
  mv "$ROOT$CONF_DIR/config.json.new.$$" "$ROOT$CONF_DIR/config.json" || die "cannot write $CONF_DIR/config.json"
  say "created $CONF_DIR/config.json from the example: edit it, then: systemctl restart newretail"
  CHANGED=1
fi

# --- admin API token (issue 10; owned by the trust work, keep this block separate) ---
# The admin API's write actions need adminToken; generated once, kept in the config (mode 0640).
if ! grep -q '"adminToken"' "$ROOT$CONF_DIR/config.json"; then
  ADMIN_TOKEN=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n') || die "cannot generate adminToken"
  sed "0,/{/s//{\n  \"adminToken\": \"$ADMIN_TOKEN\",/" "$ROOT$CONF_DIR/config.json" \
    >"$ROOT$CONF_DIR/config.json.new.$$" || die "cannot write $CONF_DIR/config.json"
  chmod 640 "$ROOT$CONF_DIR/config.json.new.$$"
  if [ "$(id -u)" = 0 ]; then chown "$CONF_OWNER" "$ROOT$CONF_DIR/config.json.new.$$" || die "cannot chown $CONF_DIR/config.json"; fi
  mv "$ROOT$CONF_DIR/config.json.new.$$" "$ROOT$CONF_DIR/config.json" || die "cannot write $CONF_DIR/config.json"
  say "generated adminToken in $CONF_DIR/config.json"
  CHANGED=1
fi
# --- end of admin API token ---

# --- admin TLS (issue 27): beyond loopback the admin server speaks HTTPS only ---
# A self-signed pair, made once, named in the config; used only when adminHost is not loopback.
# Head office checks the fingerprint printed here (and shown in /healthz) on first connection.
TLS_DIR="$CONF_DIR/tls"
if [ ! -f "$ROOT$TLS_DIR/admin.crt" ] || [ ! -f "$ROOT$TLS_DIR/admin.key" ]; then
  if command -v openssl >/dev/null 2>&1; then
    dir "$TLS_DIR" 750 "$CONF_OWNER"
    HOST=$(hostname 2>/dev/null || echo newretail)
    NAMES="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:$HOST"
    for ip in $(hostname -I 2>/dev/null); do
      case "$ip" in fe80:*) ;; *) NAMES="$NAMES,IP:$ip" ;; esac
    done
    # Not a CA (TLS clients refuse a CA certificate as a server's own); ten years: no one renews a
    # store's certificate, head office pins it by its fingerprint.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=newretail $HOST" -addext "subjectAltName=$NAMES" \
      -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
      -addext "extendedKeyUsage=serverAuth" \
      -keyout "$ROOT$TLS_DIR/admin.key.new.$$" -out "$ROOT$TLS_DIR/admin.crt.new.$$" \
      >"$TMP/openssl" 2>&1 || die "cannot make the admin certificate: $(tail -n 1 "$TMP/openssl")"
    chmod 640 "$ROOT$TLS_DIR/admin.key.new.$$"
    chmod 644 "$ROOT$TLS_DIR/admin.crt.new.$$"
    if [ "$(id -u)" = 0 ]; then
      chown "$CONF_OWNER" "$ROOT$TLS_DIR/admin.key.new.$$" "$ROOT$TLS_DIR/admin.crt.new.$$" ||
        die "cannot chown $TLS_DIR"
    fi
    mv "$ROOT$TLS_DIR/admin.key.new.$$" "$ROOT$TLS_DIR/admin.key" || die "cannot write $TLS_DIR/admin.key"
    mv "$ROOT$TLS_DIR/admin.crt.new.$$" "$ROOT$TLS_DIR/admin.crt" || die "cannot write $TLS_DIR/admin.crt"
    say "made a self-signed certificate for the admin server beyond loopback: $TLS_DIR/admin.crt ($NAMES)"
    CHANGED=1
  else
    say "openssl not found: no admin certificate made; before setting adminHost beyond loopback, set adminTlsCertFile and adminTlsKeyFile"
  fi
fi
if [ -f "$ROOT$TLS_DIR/admin.crt" ] && ! grep -q '"adminTlsCertFile"' "$ROOT$CONF_DIR/config.json"; then
  sed "0,/{/s##{\n  \"adminTlsCertFile\": \"$TLS_DIR/admin.crt\",\n  \"adminTlsKeyFile\": \"$TLS_DIR/admin.key\",#" \
    "$ROOT$CONF_DIR/config.json" >"$ROOT$CONF_DIR/config.json.new.$$" || die "cannot write $CONF_DIR/config.json"
  chmod 640 "$ROOT$CONF_DIR/config.json.new.$$"
  if [ "$(id -u)" = 0 ]; then chown "$CONF_OWNER" "$ROOT$CONF_DIR/config.json.new.$$" || die "cannot chown $CONF_DIR/config.json"; fi
  mv "$ROOT$CONF_DIR/config.json.new.$$" "$ROOT$CONF_DIR/config.json" || die "cannot write $CONF_DIR/config.json"
  say "named the admin certificate in $CONF_DIR/config.json (used when adminHost is not loopback)"
  CHANGED=1
fi
if [ -f "$ROOT$TLS_DIR/admin.crt" ] && command -v openssl >/dev/null 2>&1; then
  FINGERPRINT=$(openssl x509 -in "$ROOT$TLS_DIR/admin.crt" -noout -fingerprint -sha256 | cut -d= -f2)
  say "admin certificate SHA-256 fingerprint: $FINGERPRINT"
fi
# --- end of admin TLS ---

# The unit, enabled at boot.
UNIT_BEFORE=$CHANGED
CHANGED=0
put "$SRC/newretail.service" "$UNIT" 644
UNIT_CHANGED=$CHANGED
CHANGED=$((UNIT_BEFORE | UNIT_CHANGED))
if [ "$REAL" = 1 ]; then
  command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this installer needs systemd"
  if [ "$UNIT_CHANGED" = 1 ]; then systemctl daemon-reload || die "systemctl daemon-reload failed"; fi
  if ! systemctl is-enabled --quiet newretail.service 2>/dev/null; then
    systemctl enable newretail.service || die "cannot enable newretail.service"
    CHANGED=1
  fi
else
  if [ ! -L "$ROOT$WANTS" ]; then
    mkdir -p "$(dirname "$ROOT$WANTS")"
    ln -s "$UNIT" "$ROOT$WANTS" || die "cannot enable the unit"
    say "enabled newretail.service"
    CHANGED=1
  fi
fi

# Check the configuration with the installed program (one line naming a bad key).
if [ "$MODE" = bundle ]; then
  CHECK="$ROOT$REL/bin/deno run --quiet --no-config --no-lock --no-remote --no-npm --unstable-net --no-prompt --allow-read --allow-env $ROOT$REL/newretail.js"
else
  CHECK="$ROOT$BIN"
fi
if ! $CHECK check-config --config "$ROOT$CONF_DIR/config.json" >"$TMP/config" 2>"$TMP/check"; then
  die "$CONF_DIR/config.json: $(head -n 1 "$TMP/check")"
fi

# Switch to this release. An upgrade stops the service, keeps the release it replaces as
# previous, and copies the embedded database before this release migrates it.
if [ "$MODE" = bundle ]; then
  CUR=$(readlink "$ROOT$LIB/current" 2>/dev/null || true)
  if [ "$CUR" != "releases/$VERSION" ]; then
    if [ -n "$CUR" ]; then
      OLD=${CUR#releases/}
      STATE=$(sed -n 's/^ *"stateDir": "\(.*\)",*$/\1/p' "$TMP/config")
      case "$STATE" in /*) ;; *) STATE=$STATE_DIR/$STATE ;; esac
      PG=$(sed -n 's/^ *"databaseUrl": "\(..*\)",*$/\1/p' "$TMP/config")
      COPY=$STATE/db.before-$VERSION
      # The copy of the embedded database must fit beside it, with the room the appliance keeps
      # for its database (diskReserveMb's default): refused before anything is stopped or written.
      if [ -z "$PG" ] && [ -d "$ROOT$STATE/db" ]; then
        need=$(du -sk "$ROOT$STATE/db" | cut -f1)
        free=$(df -Pk "$ROOT$STATE" | awk 'NR == 2 { print $4 }')
        if [ -d "$ROOT$COPY" ]; then free=$((free + $(du -sk "$ROOT$COPY" | cut -f1))); fi
        if [ $((need + 65536)) -gt "$free" ]; then
          die "not enough space to copy the embedded database before upgrading to $VERSION: the copy needs $((need / 1024 + 1)) MB (and 64 MB to spare) in $STATE, which has $((free / 1024)) MB free. Nothing was changed ($OLD still runs): free some space, then run this again"
        fi
      fi
      STOPPED=0
      if [ "$REAL" = 1 ] && systemctl is-active --quiet newretail.service 2>/dev/null; then
        systemctl stop newretail.service || die "cannot stop newretail for the upgrade"
        say "stopped newretail $OLD for the upgrade"
        STOPPED=1
      fi
      if [ -n "$PG" ]; then
        printf 'from=%s\ndatabase=postgres\n' "$OLD" >"$TMP/upgraded"
        say "PostgreSQL: back it up before $VERSION migrates it (newretail backup FILE runs pg_dump)"
      elif [ -d "$ROOT$STATE/db" ]; then
        # Copied as COPY.partial and renamed when whole: a disk that fills meanwhile leaves nothing.
        rm -rf "$ROOT$COPY" "$ROOT$COPY.partial"
        if ! cp -a "$ROOT$STATE/db" "$ROOT$COPY.partial"; then
          rm -rf "$ROOT$COPY.partial"
          if [ "$STOPPED" = 1 ]; then systemctl start newretail.service 2>/dev/null || true; fi
          die "cannot copy the database to $COPY (disk full?): the partial copy was removed and $OLD is still the current release"
        fi
        mv "$ROOT$COPY.partial" "$ROOT$COPY" || die "cannot move the database copy to $COPY"
        printf 'from=%s\ndatabase=%s\ncopy=%s\n' "$OLD" "$STATE/db" "$COPY" >"$TMP/upgraded"
        say "copied the embedded database to $COPY before $VERSION migrates it (newretail rollback returns to it)"
      else
        printf 'from=%s\n' "$OLD" >"$TMP/upgraded"
      fi
      cp "$TMP/upgraded" "$ROOT$REL/UPGRADED_FROM" || die "cannot write $REL/UPGRADED_FROM"
      ln -sfn "$CUR" "$ROOT$LIB/previous.new" && mv -T "$ROOT$LIB/previous.new" "$ROOT$LIB/previous" ||
        die "cannot link $LIB/previous"
    fi
    ln -sfn "releases/$VERSION" "$ROOT$LIB/current.new" && mv -T "$ROOT$LIB/current.new" "$ROOT$LIB/current" ||
      die "cannot link $LIB/current"
    say "current release: $VERSION${CUR:+ (previous: ${CUR#releases/})}"
    CHANGED=1
  fi
  # Two releases are kept: current and previous.
  PREV=$(readlink "$ROOT$LIB/previous" 2>/dev/null || true)
  for d in "$ROOT$LIB"/releases/*; do
    [ -d "$d" ] || continue
    name=${d##*/}
    if [ "$name" != "$VERSION" ] && [ "releases/$name" != "$PREV" ]; then
      remove "$LIB/releases/$name"
    fi
  done
fi

if [ "$REAL" = 1 ] && [ "$START" = 1 ]; then
  if systemctl is-active --quiet newretail.service; then
    if [ "$CHANGED" = 1 ]; then systemctl restart newretail.service || die "restart failed: journalctl -u newretail"; say "restarted newretail"; fi
  else
    systemctl start newretail.service || die "start failed: journalctl -u newretail -n 50"
    say "started newretail"
  fi
fi

if [ "$CHANGED" = 0 ]; then
  say "already installed and up to date: nothing changed"
else
  say "done. Status: systemctl status newretail · logs: journalctl -u newretail -f · health: curl http://127.0.0.1:8687/healthz"
fi
