#!/usr/bin/env bash
# CI for operations: makes sure Debian's systemd tools are there (the ops tests run
# systemd-analyze and systemd-sysusers), then verifies the unit and reports its security score.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
  echo "installing systemd (systemd-analyze, systemd-sysusers)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

# verify wants ExecStart to exist: check a copy pointing at a stand-in executable.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\n' >"$work/newretail" && chmod +x "$work/newretail"
sed "s|^ExecStart=/usr/local/bin/newretail|ExecStart=$work/newretail|" systemd/newretail.service \
  >"$work/newretail.service"
systemd-analyze verify "$work/newretail.service"
echo "systemd-analyze verify: ok"
score=$(systemd-analyze security --offline=yes --no-pager systemd/newretail.service 2>&1 |
  sed -nE 's/.*Overall exposure level for newretail.service: ([0-9.]+).*/\1/p')
echo "systemd-analyze security: exposure ${score:-unknown} (0 best, 10 worst; README reports it)"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
