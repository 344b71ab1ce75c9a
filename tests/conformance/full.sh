#!/usr/bin/env bash
# The Autobahn|Testsuite's full compression matrix (groups 13.1-13.7, 18 sizes each, 1,000 messages per
# size: 126 cases, about 14 minutes), played by python3-autobahn against `lws serve --echo --deflate`
# (the short form, against our server and our client, is in the test command); then the same 126 cases
# with roles swapped: python3-autobahn serves them and our LocalWebSocketClient echoes (about 15 minutes;
# the test asserts every case OK). Loopback only. Prints one JSON line per server-role case and a summary;
# exits non-zero if any case is not OK.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build src/LocalWebSocket.Cli -c Release -v q --nologo >/dev/null
lws=src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 1800 dotnet "$lws" serve --host 127.0.0.1 --port "$port" --echo --deflate --no-mdns --quiet &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
timeout 1500 /usr/bin/python3 tests/peers/deflate_cases.py client "ws://127.0.0.1:$port/ws" --full
kill $server 2>/dev/null || true
echo "client role: python3-autobahn serves the 126 cases, LocalWebSocketClient echoes"
LWS_CONFORMANCE_FULL=1 timeout 1800 dotnet test tests/LocalWebSocket.Tests -c Release --nologo \
  --filter "FullyQualifiedName~Our_client_passes_the_autobahn_compression_cases"
echo "client role: 126 of 126 OK"
