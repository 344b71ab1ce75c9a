#!/bin/sh
# Avahi (avahi-daemon 0.8 from Debian), an independent mDNS responder, for one host of a namespace LAN.
#   ip netns exec HOST sh avahi-peer.sh DIR HOSTNAME INTERFACE SECONDS
# Runs a private D-Bus system bus (its socket DIR/bus, nothing else on the machine sees it) and
# avahi-daemon on INTERFACE only, with host name HOSTNAME, for at most SECONDS. avahi-daemon's log goes to
# standard output ("Server startup complete" once it runs). avahi-browse and avahi-publish reach it with
#   DBUS_SYSTEM_BUS_ADDRESS=unix:path=DIR/bus
# Only ever run inside a network namespace the tests made: it multicasts on INTERFACE.
set -eu
dir=$1 host=$2 interface=$3 seconds=$4
mkdir -p "$dir"
cat > "$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
cat > "$dir/avahi.conf" <<CONF
[server]
host-name=$host
use-ipv4=yes
use-ipv6=no
allow-interfaces=$interface
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
CONF
timeout "$seconds" dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile &
bus=$!
trap 'kill $bus 2>/dev/null || true' EXIT
i=0
while [ ! -S "$dir/bus" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus"
timeout "$seconds" avahi-daemon -f "$dir/avahi.conf" --no-drop-root --no-chroot --no-rlimits 2>&1
