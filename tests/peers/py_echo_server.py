# An independent server (Python websockets 10.4): echoes every message with its type.
# usage: /usr/bin/python3 py_echo_server.py SECONDS [PORT] ; prints "listening PORT" (a free loopback port
# unless PORT is given) and exits after SECONDS, so a forgotten process cannot outlive its test.
# Compression (permessage-deflate) is on, as is the websockets default.
import asyncio, logging, sys, websockets
logging.getLogger("websockets").setLevel(logging.CRITICAL)

async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass

async def main(lifetime, port):
    async with websockets.serve(echo, "127.0.0.1", port, max_size=2**24) as server:
        port = server.sockets[0].getsockname()[1]
        print("listening", port, flush=True)
        await asyncio.sleep(lifetime)

asyncio.run(main(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0))
