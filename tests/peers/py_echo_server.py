# An independent server (Python websockets 10.4): echoes every message with its type.
# usage: /usr/bin/python3 py_echo_server.py SECONDS ; prints "listening PORT" (a free loopback port)
# and exits after SECONDS, so a forgotten process cannot outlive its test.
import asyncio, logging, sys, websockets
logging.getLogger("websockets").setLevel(logging.CRITICAL)

async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass

async def main(lifetime):
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=2**24) as server:
        port = server.sockets[0].getsockname()[1]
        print("listening", port, flush=True)
        await asyncio.sleep(lifetime)

asyncio.run(main(float(sys.argv[1])))
