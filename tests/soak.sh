#!/usr/bin/env bash
# The soak test for minutes instead of the test command's 20 s (default 300 s; give another as $1):
# clients joining, sending sequenced messages and leaving; nothing lost, duplicated or reordered, the
# server clean afterwards, and (from two minutes on) the managed heap after a full GC flat within 5 %.
# Loopback only. Prints the report line; README "Reliability" shows the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
trap 'rm -f "$report"' EXIT
LWS_SOAK_SECONDS="${1:-300}" LWS_SOAK_REPORT="$report" \
  dotnet test tests/LocalWebSocket.Tests --filter "FullyQualifiedName~Reliability.SoakTests" --nologo -v q
cat "$report"
