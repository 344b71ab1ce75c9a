using LocalWebSocket.Cli;

// No process-wide runtime setting here (such as DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS): lws runs the
// library as an application embedding it would, so what it shows is what users get.
return await Lws.RunAsync(args, CliContext.ForConsole());
