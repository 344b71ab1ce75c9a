// BenchmarkDotNet micro-benchmarks of the hot paths: dotnet run -c Release --project bench/Micro -- --filter '*'
// (add --job short for a quick pass). Allocations are reported per operation.
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(LocalWebSocket.Benchmarks.HotPathBenchmarks).Assembly).Run(args);
