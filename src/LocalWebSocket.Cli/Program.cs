using LocalWebSocket.Cli;

return await Lws.RunAsync(args, Console.Out, Console.Error, Console.In);
