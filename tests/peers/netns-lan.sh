#!/bin/sh
# A private "LAN" for discovery tests, made of network namespaces only; the root namespace is untouched.
#   netns-lan.sh up SUFFIX [N]  : namespace lws-lan-SUFFIX holds bridge br0 (no address, no uplink); hosts
#                                 lws-hI-SUFFIX (I = 1..N) each have eth0 = 198.18.0.I/24 on that bridge,
#                                 routes for the subnet and multicast only: no default route, no way out.
#   netns-lan.sh down SUFFIX    : deletes every namespace above (their veths and bridge go with them).
set -eu
cmd=$1
suffix=$2
lan=lws-lan-$suffix
if [ "$cmd" = down ]; then
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^lws-(lan|h[0-9]+)-$suffix\$" || true); do
    ip netns del "$ns"
  done
  exit 0
fi

n=${3:-2}
ip netns add "$lan"
ip -n "$lan" link set lo up
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
i=1
while [ "$i" -le "$n" ]; do
  host=lws-h$i-$suffix
  ip netns add "$host"
  ip -n "$host" link set lo up
  ip link add eth0 netns "$host" type veth peer name p$i netns "$lan"
  ip -n "$lan" link set p$i master br0
  ip -n "$lan" link set p$i up
  ip -n "$host" addr add 198.18.0.$i/24 dev eth0
  ip -n "$host" link set eth0 up
  ip -n "$host" route add 224.0.0.0/4 dev eth0
  i=$((i + 1))
done
