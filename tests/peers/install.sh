#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (test.sh runs it first; run it alone to prepare a
# machine for `dotnet test`): the independent peers (python3-websockets, python3-autobahn, python3-zeroconf,
# libwebsockets-test-server, avahi-daemon, avahi-utils and dbus-daemon from Debian, ws from npm, pinned in
# tests/peers), Debian's Chromium with playwright-core from npm (no browser download) for the web client's
# browser tests, iproute2 for the network-namespace LAN of the discovery tests, and clang and zlib for the
# Native AOT checks. Installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
/usr/bin/python3 -c 'import websockets' 2>/dev/null || missing+=(python3-websockets)
/usr/bin/python3 -c 'import autobahn' 2>/dev/null || missing+=(python3-autobahn)
/usr/bin/python3 -c 'import zeroconf' 2>/dev/null || missing+=(python3-zeroconf)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v clang >/dev/null 2>&1 || missing+=(clang)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus-daemon)
[ -x /usr/sbin/avahi-daemon ] || missing+=(avahi-daemon)
command -v avahi-browse >/dev/null 2>&1 || missing+=(avahi-utils)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v libwebsockets-test-server >/dev/null 2>&1 || missing+=(libwebsockets-test-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/peers/install.sh: installing ${missing[*]}"
  # Avahi runs only inside the tests' network namespaces (tests/peers/avahi-peer.sh). Installing it must
  # not start it on this machine's real interfaces: a policy-rc.d that refuses every service start (as
  # Debian's container images ship) is put in place for the install when there is none.
  blocker=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    blocker=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$blocker" >/dev/null
    sudo_if_needed chmod +x "$blocker"
  fi
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$blocker" ]; then sudo_if_needed rm -f "$blocker"; fi
fi

if [ ! -d tests/peers/node_modules/ws ] || [ ! -d tests/peers/node_modules/playwright-core ]; then
  echo "tests/peers/install.sh: installing npm test peers"
  (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
fi
