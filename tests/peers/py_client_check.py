# An independent client (Python websockets 10.4) against our server.
# usage: /usr/bin/python3 py_client_check.py HOST PORT
# Checks GET / (exactly one Server header, a JSON object body), then /ws with details in the query:
# text, binary and a 100 KB message echoed back with their types, then a close with 1000 "bye".
import asyncio, http.client, json, sys, websockets

host, port = sys.argv[1], int(sys.argv[2])

conn = http.client.HTTPConnection(host, port, timeout=5)
conn.request("GET", "/")
resp = conn.getresponse()
servers = [v for k, v in resp.getheaders() if k.lower() == "server"]
body = json.loads(resp.read())
assert resp.status == 200, resp.status
assert servers == ["local-websocket/1.0.0"], servers
assert isinstance(body, dict), body
print("DETAILS", json.dumps(body, sort_keys=True), flush=True)

async def main():
    url = f"ws://{host}:{port}/ws?name=py+peer&emoji=%F0%9F%98%80"
    async with websockets.connect(url, open_timeout=5, max_size=2**24) as ws:
        for msg in ["hello from python", b"\x00\x01\xffbinary", "y" * 100000]:
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == msg and type(got) is type(msg), (str(msg)[:20], str(got)[:20])
        await ws.close(1000, "bye")
    print("OK python client", flush=True)

asyncio.run(main())
