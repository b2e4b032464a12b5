#!/bin/sh
# newretail @VERSION@ for linux-@ARCH@: one self-extracting file (built by deno task release).
#
#   sudo ./newretail-@VERSION@-linux-@ARCH@.run            install or upgrade, start the service
#   ./newretail-@VERSION@-linux-@ARCH@.run --root DIR      install into a scratch root
#   ./newretail-@VERSION@-linux-@ARCH@.run --extract DIR   only unpack into DIR/newretail-@VERSION@
#   ./newretail-@VERSION@-linux-@ARCH@.run --check         verify the embedded checksum
#
# Format: this POSIX sh script, exactly SKIP bytes long, followed by a gzip-compressed tar of the
# directory newretail-@VERSION@/ (the bundle, PGlite's files, the Deno runtime in bin/deno,
# install.sh, the launcher, the unit, the README). SHA256 is the checksum of those bytes. Any
# other option is passed on to install.sh (see --help).
set -eu
SKIP=@SKIP@
SHA256=@SHA256@
VERSION=@VERSION@
ARCH=@ARCH@
SELF=$0

say() { printf 'newretail release: %s\n' "$*"; }
die() {
  printf 'newretail release: error: %s\n' "$*" >&2
  exit 1
}
payload() { tail -c +$((SKIP + 1)) "$SELF"; }
check() {
  command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"
  sum=$(payload | sha256sum | cut -d ' ' -f 1)
  [ "$sum" = "$SHA256" ] || die "$SELF is damaged (checksum $sum, expected $SHA256): copy it again"
}

case "${1:-}" in
--check)
  check
  say "$SELF: checksum OK (newretail $VERSION, linux-$ARCH)"
  exit 0
  ;;
--extract)
  [ $# -ge 2 ] || die "--extract needs a directory"
  check
  mkdir -p "$2" || die "cannot create $2"
  payload | tar -xzf - -C "$2" || die "cannot unpack into $2"
  say "unpacked into $2/newretail-$VERSION (install with: sudo $2/newretail-$VERSION/install.sh)"
  exit 0
  ;;
--version)
  echo "$VERSION"
  exit 0
  ;;
-h | --help)
  sed -n '2,7p' "$SELF" | sed 's/^# \{0,1\}//'
  echo
  echo "Options of install.sh (passed on):"
  ;;
esac

machine=$(uname -m)
case "$ARCH:$machine" in
x86_64:x86_64 | aarch64:aarch64 | aarch64:arm64) ;;
*) die "this release is for linux-$ARCH and this machine is $machine: use newretail-$VERSION-linux-$machine.run" ;;
esac
check
TMP=$(mktemp -d "${TMPDIR:-/tmp}/newretail-release.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
payload | tar -xzf - -C "$TMP" || die "cannot unpack into $TMP (is there room in ${TMPDIR:-/tmp}?)"
status=0
sh "$TMP/newretail-$VERSION/install.sh" "$@" || status=$?
exit "$status"
