using System.Text.Json.Nodes;
using LocalWebSocket.Server;

// The hub on Kestrel: Dart and .NET clients connect at /ws, scanners read the details at /, and the app's own
// endpoints (here /announce and /stats) reach the hub through DI.
// Run: dotnet run --project samples/AspNetCoreHub --urls http://127.0.0.1:5080
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddLocalWebSocket(options =>
{
    options.Routing = RoutingMode.Broadcast;
    options.Details = new JsonObject { ["name"] = "ASP.NET Core room" };
});

var app = builder.Build();
app.MapLocalWebSocket();
app.MapPost("/announce", (LocalWebSocketServer hub, string text) => Results.Ok(new { sentTo = hub.SendToAll(text) }));
app.MapGet("/stats", (LocalWebSocketServer hub) => hub.GetStatistics());
app.Run();
