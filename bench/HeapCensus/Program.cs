// What a running .NET process keeps alive, by type: the tool behind the idle-memory figures in
// bench/README.md. It snapshots the process (which keeps running), marks every object reachable from the
// roots, and prints the largest types among them, then how much of the heap is garbage not yet collected.
//   HeapCensus PID [TOP] [PER] [live|garbage] [values]   PER: divide by this many connections; garbage: list it,
//   not the live objects; values: strings by their text, arrays by their length
using System.Globalization;
using Microsoft.Diagnostics.Runtime;

if (args.Length == 0 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
{
    Console.Error.WriteLine("usage: HeapCensus PID [TOP] [PER] [live|garbage] [values]");
    return 2;
}

var top = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
var per = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 1;
var showGarbage = args.Length > 3 && args[3] == "garbage";
var showValues = args.Length > 4 && args[4] == "values";
using var target = DataTarget.CreateSnapshotAndAttach(pid);
using var runtime = target.ClrVersions[0].CreateRuntime();
var heap = runtime.Heap;

var live = new HashSet<ulong>();
var pending = new Stack<ulong>();
foreach (var root in heap.EnumerateRoots())
{
    // An object registered for finalization shows up as a root until a collection looks at it, though
    // nothing uses it (a disposed NetworkStream of a closed connection, say): that is garbage, not live.
    if (root.RootKind == ClrRootKind.FinalizerQueue)
    {
        continue;
    }

    if (root.Object.Address != 0 && live.Add(root.Object.Address))
    {
        pending.Push(root.Object.Address);
    }
}

while (pending.TryPop(out var address))
{
    var obj = heap.GetObject(address);
    if (!obj.IsValid)
    {
        continue;
    }

    foreach (var reference in obj.EnumerateReferences(carefully: false, considerDependantHandles: true))
    {
        if (reference.Address != 0 && live.Add(reference.Address))
        {
            pending.Push(reference.Address);
        }
    }
}

var byType = new Dictionary<string, (long Count, long Bytes)>(StringComparer.Ordinal);
long liveBytes = 0, deadBytes = 0;
foreach (var obj in heap.EnumerateObjects())
{
    if (!obj.IsValid)
    {
        continue;
    }

    var size = (long)obj.Size;
    var isLive = live.Contains(obj.Address);
    if (isLive)
    {
        liveBytes += size;
    }
    else
    {
        deadBytes += size;
    }

    if (isLive == showGarbage)
    {
        continue;
    }

    var name = obj.Type?.Name ?? "?";
    if (showValues && name == "System.String")
    {
        // Which strings, not just how many: the text tells which code made them.
        var text = obj.AsString(60) ?? "";
        name = "string \"" + text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
    }
    else if (showValues && obj.Type?.IsArray == true && name.EndsWith("[]", StringComparison.Ordinal))
    {
        name += " length " + obj.AsArray().Length.ToString(CultureInfo.InvariantCulture);
    }

    var (count, bytes) = byType.GetValueOrDefault(name);
    byType[name] = (count + 1, bytes + size);
}

Console.WriteLine(FormattableString.Invariant($"live {liveBytes / per:N0} B, garbage not yet collected {deadBytes / per:N0} B{(per == 1 ? "" : " per connection")}"));
foreach (var (name, (count, bytes)) in byType.OrderByDescending(entry => entry.Value.Bytes).Take(top))
{
    Console.WriteLine(FormattableString.Invariant($"{count / per,10:N2} {bytes / per,12:N0} B  {name}"));
}

return 0;
