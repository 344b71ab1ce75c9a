# An independent TLS client (Python websockets 10.4 + ssl) against our wss:// server.
# usage: /usr/bin/python3 py_wss_client.py WSS_URL CA_PEM_FILE
# Trusts only the given certificate (our self-signed one), checks the host name against it, round-trips
# a text and a binary message (the server echoes), closes with 1000 and prints "OK wss".
import asyncio, ssl, sys, websockets

async def main(url, ca):
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    async with websockets.connect(url, ssl=context, open_timeout=5) as ws:
        for msg in ["hello over tls", b"\x01\x02\x03"]:
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == msg, (msg, got)
        await ws.close(1000, "bye")
    print("OK wss", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
