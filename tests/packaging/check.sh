#!/usr/bin/env bash
# The packages as a user gets them, checked the way a user would use them (run by ./test.sh):
#   1. `dotnet pack` gives LocalWebSocket, LocalWebSocket.AspNetCore, LocalWebSocket.Hosting and the lws tool with
#      complete metadata, twice the same bytes;
#   2. a fresh console project outside the repo restores LocalWebSocket from that feed only, and its server
#      and client exchange a message;
#   3. `dotnet tool install lws --tool-path DIR --add-source FEED`, then `DIR/lws demo` exits 0;
#   4. an app using every public feature publishes with Native AOT and warnings as errors, and runs;
#   5. lws publishes as a Native AOT binary whose demo exits 0 (its size and start-up time are printed).
# Prints "PASS name" or "FAIL name: why" per check and exits 1 if any failed. Network: loopback only, and
# the NuGet registry for the library's own dependencies.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
# Runs a step quietly; on failure shows the end of its output.
quiet() { local log="$work/step.log"; if "$@" >"$log" 2>&1; then return 0; else tail -n 25 "$log" | sed 's/^/    /'; return 1; fi; }

# A NuGet cache of our own: a package restored from the feed must be this build's, never an older copy.
export NUGET_PACKAGES="$work/nuget-packages"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# 1. Pack, the documented command, then again from scratch: identical bytes.
if quiet dotnet pack LocalWebSocket.slnx -c Release -o "$work/feed" \
   && quiet dotnet build LocalWebSocket.slnx -c Release --no-incremental \
   && quiet dotnet pack LocalWebSocket.slnx -c Release -o "$work/feed2" --no-build; then
  if [ "$(cd "$work/feed" && sha256sum ./*)" = "$(cd "$work/feed2" && sha256sum ./*)" ]; then
    pass "packing twice gives identical packages ($(cd "$work/feed" && ls | tr '\n' ' '))"
  else
    fail "reproducible packages" "the second pack differs"
  fi
else
  fail "dotnet pack" "see above"
fi

nuspec() { unzip -p "$work/feed/$1.$version.nupkg" "$1.nuspec" 2>/dev/null; }
for id in LocalWebSocket LocalWebSocket.AspNetCore LocalWebSocket.Hosting lws; do
  spec=$(nuspec "$id")
  missing=""
  for field in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<projectUrl>' '<description>' \
               '<releaseNotes>' '<tags>' '<authors>' '<repository type="git"'; do
    grep -qF "$field" <<<"$spec" || missing="$missing $field"
  done
  [ "$id" = lws ] && { grep -qF '<packageType name="DotnetTool" />' <<<"$spec" || missing="$missing DotnetTool"; }
  files=$(unzip -l "$work/feed/$id.$version.nupkg" 2>/dev/null)
  grep -q "README.md" <<<"$files" || missing="$missing README.md-file"
  [ "$id" != lws ] && { grep -q "lib/net10.0/$id.xml" <<<"$files" || missing="$missing xml-docs"; }
  [ -f "$work/feed/$id.$version.snupkg" ] || missing="$missing symbols"
  if [ -z "$missing" ]; then pass "$id $version: licence, readme, project URL, notes, tags, symbols"; else fail "$id metadata" "missing$missing"; fi
done
pdb=$(unzip -p "$work/feed/LocalWebSocket.$version.snupkg" lib/net10.0/LocalWebSocket.pdb 2>/dev/null | grep -ac "raw.githubusercontent.com")
if [ "${pdb:-0}" -gt 0 ]; then pass "Source Link in the symbols"; else fail "Source Link" "the PDB has no source URLs"; fi

# 2. A consumer outside the repository, with LocalWebSocket mapped to the local feed only.
consumer="$work/consumer"
mkdir -p "$consumer"
cat > "$consumer/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="LocalWebSocket" /><package pattern="lws" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
EOF
cat > "$consumer/Consumer.csproj" <<'EOF'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <NuGetAudit>false</NuGetAudit>
  </PropertyGroup>
</Project>
EOF
cat > "$consumer/Program.cs" <<'EOF'
using LocalWebSocket.Client;
using LocalWebSocket.Server;

await using var server = new LocalWebSocketServer(new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0, Routing = RoutingMode.Echo });
await server.StartAsync();
await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["username"] = "consumer" } });
var echoed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
client.MessageReceived += (_, message) => echoed.TrySetResult(message.Text);
await client.ConnectAsync(server.WebSocketUrl);
await client.SendAsync("hello from a package consumer");
var text = await echoed.Task.WaitAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"echo: {text}; client {server.Clients[0].Details["username"]}");
return text == "hello from a package consumer" ? 0 : 1;
EOF
if (cd "$consumer" && quiet dotnet add package LocalWebSocket --version "$version" && quiet dotnet build -c Release); then
  out=$(cd "$consumer" && timeout 60 dotnet run -c Release --no-build 2>&1)
  restored=$(cat "$NUGET_PACKAGES/localwebsocket/$version/localwebsocket.$version.nupkg.sha512" 2>/dev/null)
  built=$(openssl dgst -sha512 -binary "$work/feed/LocalWebSocket.$version.nupkg" | base64 -w0)
  if [ "$out" = "echo: hello from a package consumer; client consumer" ] && [ "$restored" = "$built" ]; then
    pass "a fresh project restores LocalWebSocket $version from the feed; its server and client exchange a message"
  else
    fail "package consumer" "output '$out', restored package is the feed's: $([ "$restored" = "$built" ] && echo yes || echo no)"
  fi
else
  fail "package consumer" "restore or build failed"
fi

# 3. The tool, installed as users install it.
if quiet dotnet tool install lws --version "$version" --tool-path "$work/tools" --add-source "$work/feed"; then
  if [ "$("$work/tools/lws" --version)" = "lws $version" ] && (cd "$work" && quiet timeout 120 "$work/tools/lws" demo); then
    pass "dotnet tool install lws, then lws demo exits 0"
  else
    fail "installed tool" "lws --version or lws demo failed"
  fi
else
  fail "dotnet tool install lws" "see above"
fi

# 4. Every public feature under Native AOT: trimming and AOT warnings are errors.
if quiet dotnet publish tests/LocalWebSocket.AotSmoke -c Release -r linux-x64 -o "$work/aot-smoke" -p:TreatWarningsAsErrors=true; then
  if out=$(timeout 120 "$work/aot-smoke/LocalWebSocket.AotSmoke" 2>&1); then
    pass "an app using every public feature publishes with Native AOT, no warning, and runs: $(tail -n 1 <<<"$out")"
  else
    fail "AOT smoke app" "$(tail -n 3 <<<"$out")"
  fi
else
  fail "AOT smoke publish" "see above"
fi

# 5. lws as a native binary.
if quiet dotnet publish src/LocalWebSocket.Cli -c Release -r linux-x64 -p:PublishAot=true -p:TreatWarningsAsErrors=true -o "$work/aot-lws"; then
  native="$work/aot-lws/lws"
  if (cd "$work" && quiet timeout 120 "$native" demo); then
    size=$(stat -c %s "$native")
    startup=$(python3 - "$native" "$repo/src/LocalWebSocket.Cli/bin/Release/net10.0/lws.dll" <<'EOF'
import statistics, subprocess, sys, time
def median_ms(cmd):
    for _ in range(3): subprocess.run(cmd, capture_output=True)
    runs = []
    for _ in range(15):
        t = time.perf_counter(); subprocess.run(cmd, capture_output=True, check=True); runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)
print(f"lws --version {median_ms([sys.argv[1], '--version']):.0f} ms native, {median_ms(['dotnet', sys.argv[2], '--version']):.0f} ms JIT")
EOF
)
    pass "lws publishes as a Native AOT binary whose demo exits 0 ($(awk -v s="$size" 'BEGIN { printf "%.1f MiB", s / 1048576 }'); $startup)"
  else
    fail "native lws demo" "see above"
  fi
else
  fail "lws Native AOT publish" "see above"
fi

exit $failed
