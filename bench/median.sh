#!/usr/bin/env bash
# For tuning: the median of several runs of one scenario, since single runs on a 2-core machine vary by tens
# of percent. With several servers, each gets one warm instance and their runs alternate, so that a noisy
# minute on the machine hits them alike. Loopback only.
#   bench/median.sh "lws kestrel" fanout|echo|rawecho|rtt [RUNS]
#   LWS_BASE=/tmp/base/src/LocalWebSocket.Cli/bin/Release/net10.0 bench/median.sh "lws lws-base" fanout   before/after a change
# fanout: 1 -> 1000 readers; echo: 32 B pipelined; rawecho: the same from a raw-socket client; rtt: 32 B round
# trip. Prints every run, then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
servers=$1; scenario=$2; runs=${3:-5}
for project in src/LocalWebSocket.Cli bench/KestrelBaseline bench/LoadGen; do
  dotnet build "$project" -c Release -v q --nologo >/dev/null
done
[[ " $servers " != *" node "* ]] || [ -d bench/node/node_modules/ws ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
mode=broadcast; [ "$scenario" = fanout ] || mode=echo
port=19100
declare -A pids urls
trap 'kill ${pids[*]} 2>/dev/null || true' EXIT
for server in $servers; do
  port=$((port + 1))
  case $server in
    lws) echo_flag=""; [ "$mode" = echo ] && echo_flag=--echo
         dotnet src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll serve --host 127.0.0.1 --port $port --no-mdns --quiet $echo_flag \
           --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 900 >/dev/null & ;;
    lws-base) # the same tool built from another commit (LWS_BASE=its output folder), for before/after figures
         echo_flag=""; [ "$mode" = echo ] && echo_flag=--echo
         dotnet "${LWS_BASE:?set LWS_BASE to the output folder of an lws built from the base commit}/lws.dll" serve --host 127.0.0.1 --port $port --no-mdns --quiet $echo_flag \
           --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 900 >/dev/null & ;;
    kestrel) dotnet bench/KestrelBaseline/bin/Release/net10.0/KestrelBaseline.dll $port $mode >/dev/null & ;;
    node) node bench/node/server.js $port $mode >/dev/null & ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
  pids[$server]=$!
  urls[$server]=ws://127.0.0.1:$port/ws
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
loadgen="dotnet bench/LoadGen/bin/Release/net10.0/LoadGen.dll"
run() { # run SERVER: one result line tagged with the server
  local url=${urls[$1]} pid=${pids[$1]} args
  case $scenario in
    fanout) args=(fanout "$url" 1000 3 "$pid") ;;
    echo) args=(echo "$url" 32 3 "$pid") ;;
    rawecho) args=(rawecho "$url" 3 "$pid") ;;
    rtt) args=(rtt "$url" 3 "$pid") ;;
  esac
  timeout 120 $loadgen "${args[@]}" | sed "s/^{/{\"server\":\"$1\",/"
}
for server in $servers; do run "$server" >/dev/null; done   # warm-up
for _ in $(seq 1 "$runs"); do
  for server in $servers; do run "$server"; done
done | tee /dev/stderr | python3 -c '
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin if line.startswith("{")]
for server in dict.fromkeys(r["server"] for r in rows):
    mine = [r for r in rows if r["server"] == server]
    print(server + ": " + ", ".join(f"{key} {statistics.median(r[key] for r in mine):g}"
          for key in mine[0] if key not in ("server", "scenario")))'
