#!/usr/bin/env bash
# Benchmarks LocalWebSocket (through `lws serve`) against a raw Kestrel server with the same semantics
# (bench/KestrelBaseline) and Node ws (bench/node), one after another in the same run, on loopback only,
# and prints a Markdown table of each figure with its ratio to Kestrel.
#   bench/run.sh            the full run (about 4 minutes)
#   QUICK=1 bench/run.sh    shorter scenarios, for a smoke test
#   SERVERS="kestrel lws" bench/run.sh   a subset of servers
#   CLIENT_RUNS=9 bench/run.sh          more alternating client runs (default 5)
#   ECHO_ROUNDS=5 bench/run.sh          more rounds of the 32 B echo runs (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${QUICK:+2}; seconds=${seconds:-5}
client_seconds=${QUICK:+1}; client_seconds=${client_seconds:-3}
echo_rounds=${ECHO_ROUNDS:-${QUICK:+1}}; echo_rounds=${echo_rounds:-3}
servers=${SERVERS:-kestrel lws node}
storm=${STORM:-5000}
many=${MANY:-10000}

for project in src/LocalWebSocket.Cli bench/KestrelBaseline bench/LoadGen; do
  dotnet build "$project" -c Release -v q --nologo >/dev/null
done
[ -d bench/node/node_modules/ws ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

loadgen="dotnet bench/LoadGen/bin/Release/net10.0/LoadGen.dll"
results=${RESULTS:-$(mktemp)}
: > "$results"
port=18900
pid=

start() { # start NAME MODE: starts a server on a fresh port, waits until GET / answers, sets pid and url
  port=$((port + 1))
  case $1 in
    lws) local echo_flag=""; [ "$2" = echo ] && echo_flag=--echo
         dotnet src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll serve --host 127.0.0.1 --port $port --no-mdns --quiet \
           $echo_flag --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 300 >/dev/null & ;;
    kestrel) dotnet bench/KestrelBaseline/bin/Release/net10.0/KestrelBaseline.dll $port "$2" >/dev/null & ;;
    node) node bench/node/server.js $port "$2" >/dev/null & ;;
  esac
  pid=$!
  url="ws://127.0.0.1:$port/ws"
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server $1 did not start" >&2; return 1
}

stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

record() { # record NAME LOADGEN-ARGS...: one result line, tagged with the server (and the round, when ROUND is set)
  local name=$1; shift
  local tag="\"server\":\"$name\","
  [ -n "${ROUND:-}" ] && tag="$tag\"round\":$ROUND,"
  timeout 120 $loadgen "$@" | sed "s/^{/{$tag/" >> "$results" || echo "  ($name: $1 failed)" >&2
}

# Pipelined 32 B echo, the figure that varies most from run to run here: every server up side by side (an
# idle one costs nothing) and the runs rotating among them, round after round; reported as medians, and
# ratios as the median of each round's ratio.
echo "== 32 B echo, $echo_rounds rounds" >&2
declare -A echo_pids echo_urls
for name in $servers; do
  start "$name" echo
  echo_pids[$name]=$pid
  echo_urls[$name]=$url
done
for round in $(seq 1 "$echo_rounds"); do
  for name in $servers; do
    ROUND=$round record "$name" rawecho "${echo_urls[$name]}" "$client_seconds" "${echo_pids[$name]}"
    ROUND=$round record "$name" echo "${echo_urls[$name]}" 32 "$client_seconds" "${echo_pids[$name]}"
  done
done
for name in $servers; do
  pid=${echo_pids[$name]}
  stop
done

for name in $servers; do
  echo "== $name" >&2
  start "$name" echo
  record "$name" rtt "$url" "$seconds" "$pid"
  record "$name" echo "$url" 65536 "$seconds" "$pid"
  if [ "$name" = kestrel ]; then
    # Alternating runs, reported as medians: single client runs vary by tens of percent here.
    for _ in $(seq 1 "${CLIENT_RUNS:-5}"); do
      record "$name" client "$url" "$client_seconds" raw
      record "$name" client "$url" "$client_seconds" lws
    done
  fi
  stop
  start "$name" broadcast
  record "$name" fanout "$url" 100 "$seconds" "$pid"
  record "$name" fanout "$url" 1000 "$seconds" "$pid"
  record "$name" fanout "$url" 100 "$seconds" "$pid" slow
  stop
  start "$name" broadcast
  record "$name" storm "$url" "$storm" "$pid"
  stop
  start "$name" broadcast
  record "$name" many "$url" "$many"
  stop
done

$loadgen report "$results"
