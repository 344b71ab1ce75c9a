using LocalWebSocket.Cli;

// On Linux and macOS, run socket continuations on the socket engine's own threads instead of handing each one
// to the thread pool: a thread switch less per read, which on the 2-core machines lws often runs on cut the
// server's CPU per echoed message by about a quarter and its round trip by about a third (bench/README.md).
// The cost is that a continuation that blocks holds up other connections: ours do not, and the event handlers
// of lws only write a line. The runtime reads this variable once, when the first socket is used, so it must
// be set before anything touches the network; it is the process's own environment, nothing else sees it.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

return await Lws.RunAsync(args, Console.Out, Console.Error, Console.In);
