# Autobahn-style probes of a server, with python3-autobahn's sendFrame, which can send invalid frames.
# usage: /usr/bin/python3 ws_conformance_probe.py ws://127.0.0.1:PORT/ws [--deflate]   (the server must echo;
# --deflate: it accepts permessage-deflate, and the cases marked so run compressed; else they are skipped)
# Ends with "N passed, N failed"; exits 1 on any failure.
import asyncio, sys, txaio
txaio.use_asyncio()
from autobahn.asyncio.websocket import WebSocketClientProtocol, WebSocketClientFactory
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateResponseAccept

# (name, frames [(opcode, payload, fin, rsv)], expected: None = echo, "pong", a set of close codes, or
# ("echo", payload, codes) = that message echoed and then the connection failed with one of codes
# (Autobahn 3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5, 5.15: what arrived whole before a bad frame is not lost)
# [, options])
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
    ("3.2 text, then RSV2, then ping", [(1, b"Hello, world!", True, 0), (1, b"Hello, world!", True, 2), (9, b"", True, 0)],
     ("echo", b"Hello, world!", {1002})),
    ("3.3 text, then RSV3 text, then ping", [(1, b"Hello, world!", True, 0), (1, b"Hello, world!", True, 3), (9, b"", True, 0)],
     ("echo", b"Hello, world!", {1002})),
    ("4.1.3 text, then reserved opcode 5, then ping", [(1, b"Hello, world!", True, 0), (5, b"", True, 0), (9, b"", True, 0)],
     ("echo", b"Hello, world!", {1002})),
    ("4.2.3 text, then reserved control opcode 11, then ping", [(1, b"Hello, world!", True, 0), (11, b"", True, 0), (9, b"", True, 0)],
     ("echo", b"Hello, world!", {1002})),
    ("5.15 fragments, a whole message, then a continuation with nothing to continue",
     [(1, b"fragment1", False, 0), (0, b"fragment2", True, 0), (0, b"fragment3", False, 0), (1, b"fragment4", True, 0)],
     ("echo", b"fragment1fragment2", {1002})),
    ("compressed text, then RSV2: echoed before the failure", [(1, None, True, 0), (1, b"x", True, 2)],
     ("echo", b"compress me " * 100, {1002}), {"deflate": True}),
    ("binary 64 KiB, then RSV1, echoed first", [(2, b"\xcd" * 65536, True, 0), (2, b"x", True, 4)],
     ("echo", b"\xcd" * 65536, {1002})),
]

async def run_case(url, frames, expected, options, fail_after_echo):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    messages = []

    class Probe(WebSocketClientProtocol):
        def onOpen(self):
            for opcode, payload, fin, rsv in frames:
                if payload is None:
                    # A whole message through the protocol's own path, compressed when deflate is on.
                    self.sendMessage(expected[1], isBinary=False)
                else:
                    self.sendFrame(opcode, payload, fin=fin, rsv=rsv)

        def onMessage(self, payload, isBinary):
            messages.append(payload)
            if not fail_after_echo and not done.done():
                done.set_result(("echo", payload))
                self.sendClose(1000)

        def onPong(self, payload):
            if not done.done():
                done.set_result(("pong", payload))
            self.sendClose(1000)

        def onClose(self, wasClean, code, reason):
            if not done.done():
                done.set_result(("close", code) if not fail_after_echo else ("echo-close", (list(messages), code)))

    factory = WebSocketClientFactory(url)
    factory.protocol = Probe
    options = dict(options)
    if options.pop("deflate", False):
        options["perMessageCompressionOffers"] = [PerMessageDeflateOffer()]
        options["perMessageCompressionAccept"] = lambda response: PerMessageDeflateResponseAccept(response)
    factory.setProtocolOptions(openHandshakeTimeout=5, closeHandshakeTimeout=2, **options)
    await loop.create_connection(factory, factory.host, factory.port)
    return await asyncio.wait_for(done, 5)

async def main(url):
    passed = failed = 0
    for name, frames, expected, *options in CASES:
        if options and options[0].get("deflate") and "--deflate" not in sys.argv:
            continue
        try:
            kind, value = await run_case(url, frames, expected, options[0] if options else {}, isinstance(expected, tuple))
        except asyncio.TimeoutError:
            kind, value = "timeout", None
        if expected is None:
            good = kind == "echo" and value == b"".join(p for _, p, _, _ in frames)
        elif isinstance(expected, tuple):
            good = kind == "echo-close" and value[0] == [expected[1]] and value[1] in expected[2]
        elif expected == "pong":
            good = kind == "pong"
        else:
            good = kind == "close" and value in expected
        passed += good
        failed += not good
        shown = value if kind == "close" else (f"{len(value[0])} echoed, close {value[1]}" if kind == "echo-close" else "")
        print(("PASS " if good else "FAIL ") + name, kind, shown, flush=True)
    print(f"{passed} passed, {failed} failed")
    return failed

sys.exit(1 if asyncio.run(main(sys.argv[1])) else 0)
