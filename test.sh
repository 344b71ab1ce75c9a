#!/usr/bin/env bash
# Runs every test. First installs what the tests need on a fresh Debian machine (tests/peers/install.sh: the
# independent peers, Chromium with playwright-core, iproute2, clang and zlib for Native AOT). Then `dotnet test`,
# then the packaging checks (tests/packaging/check.sh): the packages as a consumer restores them, the installed
# tool, and Native AOT.
set -euo pipefail
cd "$(dirname "$0")"

tests/peers/install.sh

log=$(mktemp)
packaging=$(mktemp)
results=$(mktemp -d)
trap 'rm -rf "$log" "$packaging" "$results"' EXIT
status=0
dotnet test LocalWebSocket.slnx --logger "trx;LogFileName=results.trx" --results-directory "$results" 2>&1 | tee "$log" || status=$?
# The README's conformance table, from this run's results.
if [ -f "$results/results.trx" ]; then
  /usr/bin/python3 tests/conformance/table.py "$results/results.trx" README.md || status=1
  /usr/bin/python3 tests/interop/matrix.py "$results/results.trx" README.md || status=1
fi

echo "test.sh: packaging checks (pack, consume, tool install, Native AOT)"
tests/packaging/check.sh 2>&1 | tee "$packaging" || status=1

# One plain summary line, summed over test assemblies and the packaging checks, for readers that do not
# know dotnet's format.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     FILENAME == ARGV[2] && /^PASS / { p++ }
     FILENAME == ARGV[2] && /^FAIL / { f++ }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log" "$packaging"
exit "$status"
