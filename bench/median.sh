#!/usr/bin/env bash
# For tuning: the median of several runs of one scenario against one warm server, since single runs on a
# 2-core machine vary by tens of percent. Loopback only.
#   bench/median.sh lws|kestrel|node fanout|echo|rtt [RUNS]
# fanout: 1 -> 1000 readers; echo: 32 B pipelined; rtt: 32 B round trip. Prints every run, then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
server=$1; scenario=$2; runs=${3:-5}
for project in src/LocalWebSocket.Cli bench/KestrelBaseline bench/LoadGen; do
  dotnet build "$project" -c Release -v q --nologo >/dev/null
done
[ -d bench/node/node_modules/ws ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
port=19101
mode=broadcast; [ "$scenario" = fanout ] || mode=echo
case $server in
  lws) echo_flag=""; [ "$mode" = echo ] && echo_flag=--echo
       dotnet src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll serve --host 127.0.0.1 --port $port --no-mdns --quiet $echo_flag \
         --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 600 >/dev/null & ;;
  kestrel) dotnet bench/KestrelBaseline/bin/Release/net10.0/KestrelBaseline.dll $port $mode >/dev/null & ;;
  node) node bench/node/server.js $port $mode >/dev/null & ;;
esac
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
url=ws://127.0.0.1:$port/ws
loadgen="dotnet bench/LoadGen/bin/Release/net10.0/LoadGen.dll"
case $scenario in
  fanout) args=(fanout "$url" 1000 3 "$pid") ;;
  echo) args=(echo "$url" 32 3 "$pid") ;;
  rtt) args=(rtt "$url" 3 "$pid") ;;
esac
timeout 120 $loadgen "${args[@]}" >/dev/null   # warm-up
for _ in $(seq 1 "$runs"); do timeout 120 $loadgen "${args[@]}"; done | tee /dev/stderr | python3 -c '
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin if line.startswith("{")]
for key in rows[0]:
    if key != "scenario":
        print(f"median {key}: {statistics.median(r[key] for r in rows)}")'
