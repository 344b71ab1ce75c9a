#!/bin/sh
# A private "LAN" for discovery tests, made of network namespaces only; the root namespace is untouched.
#   netns-lan.sh up SUFFIX [N] [ipv6-only]
#                               : namespace lws-lan-SUFFIX holds bridge br0 (no address, no uplink); hosts
#                                 lws-hI-SUFFIX (I = 1..N) each have eth0 on that bridge with 198.18.0.I/24
#                                 (left out with ipv6-only) and the IPv6 link-local fe80::I/64 (the kernel's
#                                 own random one turned off, duplicate detection off, so it is usable at
#                                 once), routes for the subnet and multicast only: no default route, no way out.
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
family=${4:-dual}
ip netns add "$lan"
ip -n "$lan" link set lo up
# No multicast snooping: the bridge floods mDNS to every port instead of learning, from MLD or IGMP reports
# that may come late, who joined.
ip -n "$lan" link add br0 type bridge mcast_snooping 0
ip -n "$lan" link set br0 up
i=1
while [ "$i" -le "$n" ]; do
  host=lws-h$i-$suffix
  ip netns add "$host"
  ip -n "$host" link set lo up
  ip link add eth0 netns "$host" type veth peer name p$i netns "$lan"
  ip -n "$lan" link set p$i master br0
  ip -n "$lan" link set p$i up
  ip netns exec "$host" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/eth0/addr_gen_mode; echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad'
  ip -n "$host" addr add fe80::$i/64 dev eth0 nodad
  if [ "$family" != ipv6-only ]; then
    ip -n "$host" addr add 198.18.0.$i/24 dev eth0
  fi
  ip -n "$host" link set eth0 up
  if [ "$family" != ipv6-only ]; then
    ip -n "$host" route add 224.0.0.0/4 dev eth0
  fi
  i=$((i + 1))
done
