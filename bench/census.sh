#!/usr/bin/env bash
# What an idle connection of lws costs: starts `lws serve` on loopback, runs the benchmark's connect storm
# against it (LoadGen storm: the same warm-up, clients and RSS figure as bench/run.sh) and, while the
# connections are held, counts the live managed objects per connection by type (bench/HeapCensus).
# Loopback only; everything ends within a minute or two.
#   bench/census.sh [COUNT] [TOP] [live|garbage] [values]   garbage: list the garbage not yet collected instead;
#   values: strings by their text and arrays by their length
#   LWS_DLL=/tmp/base/src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll bench/census.sh   the same for another build
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}; top=${2:-25}; what=${3:-live}; detail=${4:-types}
for project in src/LocalWebSocket.Cli bench/HeapCensus bench/LoadGen; do
  dotnet build "$project" -c Release -v q --nologo >/dev/null
done
port=19191
dotnet "${LWS_DLL:-src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll}" serve --host 127.0.0.1 --port $port --no-mdns --quiet \
  --max-connections 30000 --max-per-ip 30000 --handshakes-per-ip 1000000 --duration 300 >/dev/null &
pid=$!
trap 'kill $pid $holder 2>/dev/null || true' EXIT
holder=
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
fifo=$(mktemp -u); mkfifo "$fifo"
timeout 180 dotnet bench/LoadGen/bin/Release/net10.0/LoadGen.dll storm "ws://127.0.0.1:$port/ws" "$count" $pid 60 > "$fifo" &
holder=$!
read -r storm < "$fifo"; rm -f "$fifo"
echo "$storm"
echo "established: $(ss -Htn state established "( sport = :$port )" | wc -l)"
dotnet bench/HeapCensus/bin/Release/net10.0/HeapCensus.dll $pid "$top" "$count" "$what" "$detail"
