# permessage-deflate with Python websockets 10.4 (its own RFC 7692 code on zlib), both roles.
#   /usr/bin/python3 py_deflate.py client WS_URL   against our echoing server, one connection per variant
#   /usr/bin/python3 py_deflate.py server SECONDS  echo servers, one per variant: prints "listening NAME PORT"
# A variant is a set of negotiation parameters. The client sends, on each connection, messages of 0 B to
# 16 MiB (text and binary) one at a time, then 1,000 small ones in a row without waiting, and checks every
# echo and the order; it prints "OK NAME extensions=..." or "FAIL NAME why", then "N variants, N failed".
import asyncio, logging, sys, websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory
logging.getLogger("websockets").setLevel(logging.CRITICAL)

CLIENT_VARIANTS = {
    "default": {"client_max_window_bits": True},
    "no-context-takeover": {"server_no_context_takeover": True, "client_no_context_takeover": True},
    "server-window-8": {"server_max_window_bits": 8},
    "windows-10-9": {"server_max_window_bits": 10, "client_max_window_bits": 9},
}
SERVER_VARIANTS = {
    "default": {},
    "no-context-takeover": {"server_no_context_takeover": True, "client_no_context_takeover": True},
    "server-window-10": {"server_max_window_bits": 10},
    "client-window-8": {"client_max_window_bits": 8},
}
SIXTEEN_MIB = 16 * 1024 * 1024


def payloads():
    line = "LocalWebSocket compresses this line of text well. ".encode()
    for size, binary in [(0, False), (0, True), (1, False), (65536, True), (1024 * 1024, False), (SIXTEEN_MIB, True)]:
        data = (line * (size // len(line) + 1))[:size]
        yield (data if binary else data.decode())


async def check(ws):
    for message in payloads():
        await ws.send(message)
        echoed = await asyncio.wait_for(ws.recv(), 30)
        if echoed != message or type(echoed) is not type(message):
            return f"echo of a {len(message)}-byte message differs"
    sent = [f"message {i:04d} " + "x" * (i % 200) for i in range(1000)]
    for message in sent:
        await ws.send(message)
    for i, message in enumerate(sent):
        if await asyncio.wait_for(ws.recv(), 30) != message:
            return f"message {i} of 1000 out of order or changed"
    return None


async def run_client(url):
    failed = 0
    for name, parameters in CLIENT_VARIANTS.items():
        try:
            async with websockets.connect(url, open_timeout=5, max_size=SIXTEEN_MIB,
                                          extensions=[ClientPerMessageDeflateFactory(**parameters)]) as ws:
                negotiated = ws.response_headers.get("Sec-WebSocket-Extensions")
                problem = "not negotiated" if not negotiated else await check(ws)
                await ws.close(1000)
        except Exception as exception:
            negotiated, problem = None, repr(exception)
        failed += problem is not None
        print(f"FAIL {name} {problem}" if problem else f"OK {name} extensions={negotiated}", flush=True)
    print(f"{len(CLIENT_VARIANTS)} variants, {failed} failed", flush=True)
    return failed


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def run_server(lifetime):
    servers = []
    for name, parameters in SERVER_VARIANTS.items():
        server = await websockets.serve(echo, "127.0.0.1", 0, max_size=SIXTEEN_MIB,
                                        extensions=[ServerPerMessageDeflateFactory(**parameters)])
        servers.append(server)
        print("listening", name, server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(lifetime)


if sys.argv[1] == "client":
    sys.exit(1 if asyncio.run(run_client(sys.argv[2])) else 0)
else:
    asyncio.run(run_server(float(sys.argv[2])))
