#!/usr/bin/env bash
# What an idle connection of lws costs: starts `lws serve` on loopback, warms it, opens COUNT idle
# connections, then prints the server's RSS growth per connection and the live managed objects per
# connection by type (bench/HeapCensus). Loopback only; everything ends within a minute or two.
#   bench/census.sh [COUNT] [TOP] [live|garbage] [values]   garbage: list the garbage not yet collected instead;
#   values: strings by their text and arrays by their length
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-2000}; top=${2:-25}; what=${3:-live}; detail=${4:-types}
for project in src/LocalWebSocket.Cli bench/HeapCensus; do
  dotnet build "$project" -c Release -v q --nologo >/dev/null
done
port=19191
dotnet src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll serve --host 127.0.0.1 --port $port --no-mdns --quiet \
  --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 300 >/dev/null &
pid=$!
trap 'kill $pid $holder 2>/dev/null || true' EXIT
holder=
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
# Warm-up: code paged in, pools grown, and hot methods recompiled by the tiered JIT, which needs calls after
# a quiet moment: with one round, the recompilation (~2 MiB of code and JIT scratch) lands in the figure.
for _ in 1 2 3; do
  timeout 60 python3 bench/hold_connections.py $port 300 0 >/dev/null
  sleep 1
done
rss() { awk '/^VmRSS:/ { print $2 }' /proc/$pid/status; }
before=$(rss)
fifo=$(mktemp -u); mkfifo "$fifo"
timeout 120 python3 bench/hold_connections.py $port "$count" 60 > "$fifo" &
holder=$!
read -r _ < "$fifo"; rm -f "$fifo"
sleep 1
echo "RSS growth per connection: $(( ($(rss) - before) * 1024 / count )) B"
dotnet bench/HeapCensus/bin/Release/net10.0/HeapCensus.dll $pid "$top" "$count" "$what" "$detail"
