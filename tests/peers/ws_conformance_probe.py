# Autobahn-style probes of a server, with python3-autobahn's sendFrame, which can send invalid frames.
# usage: /usr/bin/python3 ws_conformance_probe.py ws://127.0.0.1:PORT/ws   (the server must echo)
# Ends with "N passed, N failed"; exits 1 on any failure.
import asyncio, sys, txaio
txaio.use_asyncio()
from autobahn.asyncio.websocket import WebSocketClientProtocol, WebSocketClientFactory

# (name, frames [(opcode, payload, fin, rsv)], expected: None = echo, "pong", or a set of close codes[, options])
CASES = [
    ("text echo", [(1, b"hello", True, 0)], None),
    ("ping gets pong", [(9, b"pp", True, 0)], "pong"),
    ("RSV1 without an extension", [(1, b"x", True, 4)], {1002}),
    ("RSV3 set", [(1, b"x", True, 1)], {1002}),
    ("reserved opcode 3", [(3, b"", True, 0)], {1002}),
    ("fragmented ping", [(9, b"a", False, 0), (0, b"b", True, 0)], {1002}),
    ("fragmented text echo", [(1, b"frag", False, 0), (0, b"ment", True, 0)], None),
    ("invalid UTF-8 text", [(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", True, 0)], {1007}),
    ("close with a 1-byte body", [(8, b"\x03", True, 0)], {1002}),
    ("close code 999", [(8, b"\x03\xe7", True, 0)], {1002}),
    ("64 KiB binary echo", [(2, b"\xab" * 65536, True, 0)], None),
    ("unmasked client frame", [(1, b"nomask", True, 0)], {1002}, {"maskClientFrames": False}),
]

async def run_case(url, frames, options):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    class Probe(WebSocketClientProtocol):
        def onOpen(self):
            for opcode, payload, fin, rsv in frames:
                self.sendFrame(opcode, payload, fin=fin, rsv=rsv)

        def onMessage(self, payload, isBinary):
            if not done.done():
                done.set_result(("echo", payload))
            self.sendClose(1000)

        def onPong(self, payload):
            if not done.done():
                done.set_result(("pong", payload))
            self.sendClose(1000)

        def onClose(self, wasClean, code, reason):
            if not done.done():
                done.set_result(("close", code))

    factory = WebSocketClientFactory(url)
    factory.protocol = Probe
    factory.setProtocolOptions(openHandshakeTimeout=5, closeHandshakeTimeout=2, **options)
    await loop.create_connection(factory, factory.host, factory.port)
    return await asyncio.wait_for(done, 5)

async def main(url):
    passed = failed = 0
    for name, frames, expected, *options in CASES:
        try:
            kind, value = await run_case(url, frames, options[0] if options else {})
        except asyncio.TimeoutError:
            kind, value = "timeout", None
        if expected is None:
            good = kind == "echo" and value == b"".join(p for _, p, _, _ in frames)
        elif expected == "pong":
            good = kind == "pong"
        else:
            good = kind == "close" and value in expected
        passed += good
        failed += not good
        print(("PASS " if good else "FAIL ") + name, kind, value if kind == "close" else "", flush=True)
    print(f"{passed} passed, {failed} failed")
    return failed

sys.exit(1 if asyncio.run(main(sys.argv[1])) else 0)
