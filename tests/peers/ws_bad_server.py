# A misbehaving server (python3-autobahn) to check how a client reacts: one case per path,
# ws://127.0.0.1:PORT/<case>. Prints "listening PORT", then "RESULT <case> ... PASS|FAIL" per connection.
# usage: /usr/bin/python3 ws_bad_server.py SECONDS
import asyncio, sys, txaio
txaio.use_asyncio()
from autobahn.asyncio.websocket import WebSocketServerProtocol, WebSocketServerFactory

CASES = {  # path -> (frames [(opcode, payload, fin, rsv, mask)], expected client close codes or "pong")
    "rsv1": ([(1, b"x", True, 4, None)], {1002}),
    "badop": ([(0xB, b"", True, 0, None)], {1002}),
    "badutf8": ([(1, b"\xff\xfe", True, 0, None)], {1007}),
    "masked": ([(1, b"hi", True, 0, b"\x01\x02\x03\x04")], {1002}),
    "ping": ([(9, b"are-you-there", True, 0, None)], "pong"),
    # Autobahn 5.6-5.9: a fragmented text message with a ping between its fragments; the client must answer
    # the ping and get the message whole ("fragmented").
    "fragments": ([(1, b"frag", False, 0, None), (9, b"are-you-there", True, 0, None), (0, b"ment", False, 0, None),
                   (0, b"ed", True, 0, None)], "pong"),
    # Autobahn 6.4.1: invalid UTF-8 in a middle fragment, the message's end never sent.
    "fragutf8": ([(1, "κόσμε".encode(), False, 0, None), (0, b"\xed\xa0\x80", False, 0, None)], {1007}),
}

class Bad(WebSocketServerProtocol):
    def onConnect(self, request):
        self.case = request.path.strip("/")

    def onOpen(self):
        for opcode, payload, fin, rsv, mask in CASES[self.case][0]:
            self.sendFrame(opcode, payload, fin=fin, rsv=rsv, mask=mask)

    def onPong(self, payload):
        print("RESULT", self.case, "pong", "PASS" if payload == b"are-you-there" else "FAIL", flush=True)
        self.sendClose(1000)

    def onClose(self, wasClean, code, reason):
        expected = CASES.get(getattr(self, "case", ""), (None, None))[1]
        if expected != "pong":
            print("RESULT", getattr(self, "case", "?"), "client close", code,
                  "PASS" if code in (expected or ()) else "FAIL", flush=True)

async def main(lifetime):
    factory = WebSocketServerFactory("ws://127.0.0.1")
    factory.protocol = Bad
    factory.setProtocolOptions(closeHandshakeTimeout=2)
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(lifetime)
    server.close()

asyncio.run(main(float(sys.argv[1])))
