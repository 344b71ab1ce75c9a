# The interop matrix's Python websockets 10.4 peer (tests/LocalWebSocket.Tests/Interop/InteropMatrixTests.cs).
#   client CHECK URL : runs one check against an echo server (ours); prints "PASS CHECK ..." or "FAIL CHECK ..."
#   server SECONDS   : an echo server on a free loopback port ("listening PORT"), for our client; see serve().
# Checks (the same in every peer): text, binary, empty, 1mib, fragmented, ping, close-by-client,
# close-by-server, deflate. The peer's side of each check is asserted here; ours in the .NET test.
import asyncio, logging, sys, websockets
logging.getLogger("websockets").setLevel(logging.CRITICAL)

TEXT = "héllo ✓ 😀 漢字 שלום"
BINARY = bytes(range(256))
MIB = bytes((i * 31) % 251 for i in range(1 << 20))
COMPRESSIBLE = "local websocket " * 65536           # 1 MiB of text that compresses well


async def round_trip(ws, message):
    await ws.send(message)
    got = await asyncio.wait_for(ws.recv(), 10)
    if type(got) is not type(message) or got != message:
        raise AssertionError(f"sent {type(message).__name__} of {len(message)}, got {type(got).__name__} of {len(got)}")


async def check(name, url):
    deflate = name == "deflate"
    async with websockets.connect(url, open_timeout=10, max_size=2**24, compression="deflate" if deflate else None) as ws:
        if name == "text":
            await round_trip(ws, TEXT)
        elif name == "binary":
            await round_trip(ws, BINARY)
        elif name == "empty":
            await round_trip(ws, "")
            await round_trip(ws, b"")
        elif name == "1mib":
            await round_trip(ws, MIB)
        elif name == "fragmented":
            await ws.send(["frag", "men", "ted ✓"])              # an iterable goes out as one fragmented message
            got = await asyncio.wait_for(ws.recv(), 10)
            assert got == "fragmented ✓", got
        elif name == "ping":
            pong = await ws.ping(b"ping-123")                  # completes when the pong with this payload arrives
            await asyncio.wait_for(pong, 10)
        elif name == "close-by-client":
            await ws.close(4000, "client bye")
            assert ws.close_code == 4000, ws.close_code        # the server answers with the same code
        elif name == "close-by-server":
            await ws.send("close me")
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert (ws.close_code, ws.close_reason) == (4001, "server bye"), (ws.close_code, ws.close_reason)
        elif name == "deflate":
            ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
            assert ext.startswith("permessage-deflate"), ext
            await round_trip(ws, COMPRESSIBLE)
            await round_trip(ws, MIB)
        else:
            raise AssertionError("unknown check " + name)
    print("PASS", name, flush=True)


async def serve(ws, path=None):
    # Echoes every message with its type, except these requests from our client:
    #   "fragment please"  -> a text message in three fragments, "fragmented reply ✓"
    #   "ping please"      -> a ping "ping-456"; when its pong comes back, the text "pong ping-456"
    #   "close CODE REASON"-> closes with that code and reason
    # When the connection ends it prints "CLOSED code reason" and the extension it agreed to ("EXT ...").
    print("EXT", ws.response_headers.get("Sec-WebSocket-Extensions", "none"), flush=True)
    try:
        async for msg in ws:
            if msg == "fragment please":
                await ws.send(["fragmented", " reply", " ✓"])
            elif msg == "ping please":
                await asyncio.wait_for(await ws.ping(b"ping-456"), 10)
                await ws.send("pong ping-456")
            elif isinstance(msg, str) and msg.startswith("close "):
                _, code, reason = msg.split(" ", 2)
                await ws.close(int(code), reason)
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    print("CLOSED", ws.close_code, ws.close_reason, flush=True)


async def server(lifetime):
    async with websockets.serve(serve, "127.0.0.1", 0, max_size=2**24) as s:
        print("listening", s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(lifetime)                          # bounded lifetime


if sys.argv[1] == "client":
    try:
        asyncio.run(check(sys.argv[2], sys.argv[3]))
    except Exception as e:                                     # the test shows why
        print("FAIL", sys.argv[2], type(e).__name__, e, flush=True)
        sys.exit(1)
else:
    asyncio.run(server(float(sys.argv[2])))
