# permessage-deflate cases in the manner of the Autobahn|Testsuite's groups 12 and 13, played by
# python3-autobahn (an independent implementation of RFC 7692) against our side.
#
#   /usr/bin/python3 deflate_cases.py client WS_URL [--full]   our server must echo; autobahn is the client
#   /usr/bin/python3 deflate_cases.py server [--full]          prints "listening PORT"; our client connects to
#                                                               ws://127.0.0.1:PORT/CASE and echoes what it gets
#
# A case is (offer or accept variant, message size, count, auto-fragment size). Autobahn sends one message,
# waits for its echo, checks type, length and SHA-1, and sends the next, as the suite does. One JSON line per
# case: its id, the negotiated extension, OK or the failure, and the octets of the echoes as received on the
# wire and after inflating (so the test sees whether the other side really compressed).
# The server mode runs until every case has been played once, or 120 s (25 minutes with --full).
import asyncio, hashlib, json, sys, txaio
txaio.use_asyncio()
from autobahn.asyncio.websocket import (WebSocketClientProtocol, WebSocketClientFactory,
                                        WebSocketServerProtocol, WebSocketServerFactory)
from autobahn.websocket.compress import (PerMessageDeflateOffer, PerMessageDeflateOfferAccept,
                                         PerMessageDeflateResponse, PerMessageDeflateResponseAccept)
from autobahn.websocket.compress_deflate import PerMessageDeflateMixin

# The suite asks for 8-bit windows (13.3, 13.5, 13.7); this autobahn refuses to, because zlib cannot
# compress with them. Inflating with them works, which is all a side that asks for one does.
PerMessageDeflateMixin.WINDOW_SIZE_PERMISSIBLE_VALUES = list(range(8, 16))

# Groups 13.1-13.7: the client's offers (no context takeover, max window bits) and the server's acceptance.
OFFERS = {
    "13.1": [(False, 0)],
    "13.2": [(True, 0)],
    "13.3": [(False, 8)],
    "13.4": [(False, 15)],
    "13.5": [(True, 8)],
    "13.6": [(True, 15)],
    "13.7": [(True, 8), (True, 0), (False, 0)],
}
ACCEPTS = {"13.1": [(False, 0)], "13.2": [(True, 0)], "13.3": [(False, 8)], "13.4": [(False, 15)],
           "13.5": [(True, 8)], "13.6": [(True, 15)], "13.7": [(True, 8), (True, 0), (False, 0)]}

# (size, count, auto-fragment): the suite's sizes; the short form keeps one of each kind.
FULL_SIZES = [(16, 1000, 0), (64, 1000, 0), (256, 1000, 0), (1024, 1000, 0), (4096, 1000, 0), (8192, 1000, 0),
              (16384, 1000, 0), (32768, 1000, 0), (65536, 1000, 0), (131072, 1000, 0),
              (8192, 1000, 256), (16384, 1000, 256), (32768, 1000, 256), (65536, 1000, 256),
              (131072, 1000, 256), (131072, 1000, 1024), (131072, 1000, 4096), (131072, 1000, 32768)]
SHORT_SIZES = [(16, 1000, 0), (4096, 200, 0), (131072, 20, 4096)]


def test_data():
    # Repetitive JSON text, like the suite's data1.json: compressible, and valid UTF-8 when cut anywhere
    # between records (every character is ASCII).
    records = [{"id": i, "name": f"device-{i % 97}", "room": ["kitchen", "hall", "lab"][i % 3],
                "reading": round(i * 0.37, 2), "ok": i % 5 != 0} for i in range(6000)]
    return json.dumps(records).encode()


DATA = test_data()


def cases(full):
    sizes = FULL_SIZES if full else SHORT_SIZES
    for group in OFFERS:
        for index, (size, count, fragment) in enumerate(sizes, 1):
            yield f"{group}.{index}", group, size, count, fragment


class Player:
    """Plays one case over an open protocol: send, await the echo, check it, repeat."""

    def __init__(self, proto, case_id, size, count, fragment, done):
        self.proto, self.case_id, self.size, self.count, self.done = proto, case_id, size, count, done
        self.sent = 0
        self.offset = 0
        self.expected = None
        proto.autoFragmentSize = fragment

    def start(self):
        self.send_one()

    def send_one(self):
        start = self.offset % len(DATA)
        message = (DATA + DATA)[start:start + self.size]
        self.offset += self.size
        self.expected = hashlib.sha1(message).digest()
        self.proto.sendMessage(message, isBinary=False)
        self.sent += 1

    def received(self, payload, is_binary):
        if is_binary or len(payload) != self.size or hashlib.sha1(payload).digest() != self.expected:
            self.finish(f"FAILED: echo {self.sent} differs (binary {is_binary}, length {len(payload)})")
        elif self.sent < self.count:
            self.send_one()
        else:
            self.finish("OK")

    def finish(self, outcome):
        stats = self.proto.trafficStats
        extension = self.proto._perMessageCompress
        result = {"case": self.case_id, "outcome": outcome, "messages": self.sent,
                  "extension": describe(extension),
                  "wireIn": stats.incomingOctetsWebSocketLevel, "appIn": stats.incomingOctetsAppLevel}
        print(json.dumps(result), flush=True)
        if not self.done.done():
            self.done.set_result(result)
        self.proto.sendClose(1000)


def describe(extension):
    """The parameters both sides settled on, in RFC 7692 terms."""
    if extension is None:
        return None
    return (f"server_no_context_takeover={extension.server_no_context_takeover} "
            f"client_no_context_takeover={extension.client_no_context_takeover} "
            f"server_max_window_bits={extension.server_max_window_bits} "
            f"client_max_window_bits={extension.client_max_window_bits}")


def offers_for(group):
    return [PerMessageDeflateOffer(accept_no_context_takeover=True, accept_max_window_bits=True,
                                   request_no_context_takeover=nct, request_max_window_bits=bits)
            for nct, bits in OFFERS[group]]


def accept_for(group):
    def accept(offers):
        for nct, bits in ACCEPTS[group]:
            for offer in offers:
                if not isinstance(offer, PerMessageDeflateOffer):
                    continue
                if (nct and not offer.accept_no_context_takeover) or (bits and not offer.accept_max_window_bits):
                    continue
                return PerMessageDeflateOfferAccept(offer, request_no_context_takeover=nct,
                                                    request_max_window_bits=bits)
        return None
    return accept


async def play_client_case(url, case_id, group, size, count, fragment):
    """One case on its own connection; returns its result once the close handshake is over (or timed out)."""
    loop = asyncio.get_running_loop()
    done, closed = loop.create_future(), loop.create_future()

    class Client(WebSocketClientProtocol):
        def onOpen(self):
            self.player = Player(self, case_id, size, count, fragment, done)
            if self._perMessageCompress is None:
                self.player.finish("UNIMPLEMENTED: permessage-deflate not negotiated")
            else:
                self.player.start()

        def onMessage(self, payload, is_binary):
            self.player.received(payload, is_binary)

        def onClose(self, was_clean, code, reason):
            if not done.done():
                result = {"case": case_id, "outcome": f"FAILED: closed {code} {reason}"}
                print(json.dumps(result), flush=True)
                done.set_result(result)
            if not closed.done():
                closed.set_result(was_clean)

    factory = WebSocketClientFactory(url)
    factory.protocol = Client
    factory.setProtocolOptions(openHandshakeTimeout=5, closeHandshakeTimeout=2, maxMessagePayloadSize=0,
                               perMessageCompressionOffers=offers_for(group),
                               perMessageCompressionAccept=lambda r: PerMessageDeflateResponseAccept(r)
                               if isinstance(r, PerMessageDeflateResponse) else None)
    transport, _ = await loop.create_connection(factory, factory.host, factory.port)
    try:
        result = await asyncio.wait_for(done, 120)
        await asyncio.wait_for(closed, 5)
    except asyncio.TimeoutError:
        result = {"case": case_id, "outcome": "FAILED: timeout"}
        print(json.dumps(result), flush=True)
    transport.close()
    return result


async def run_client(url, full):
    failed = 0
    for case in cases(full):
        result = await play_client_case(url, *case)
        failed += not result["outcome"].startswith("OK")
    print(f"cases done, {failed} not OK", flush=True)
    return failed


async def run_server(full):
    loop = asyncio.get_running_loop()
    pending = {case_id: (group, size, count, fragment) for case_id, group, size, count, fragment in cases(full)}
    all_done = loop.create_future()

    class Server(WebSocketServerProtocol):
        def onConnect(self, request):
            case_id = request.path.strip("/")
            if case_id not in pending:
                raise Exception("unknown case " + case_id)
            self.case = (case_id,) + pending[case_id]
            self.perMessageCompressionAccept = accept_for(self.case[1])
            return None

        def onOpen(self):
            case_id, _, size, count, fragment = self.case
            finished = loop.create_future()
            finished.add_done_callback(lambda _: pending.pop(case_id, None) and not pending and not all_done.done()
                                       and all_done.set_result(True))
            self.player = Player(self, case_id, size, count, fragment, finished)
            if self._perMessageCompress is None:
                self.player.finish("UNIMPLEMENTED: permessage-deflate not negotiated")
            else:
                self.player.start()

        def onMessage(self, payload, is_binary):
            self.player.received(payload, is_binary)

    factory = WebSocketServerFactory()
    factory.protocol = Server
    factory.setProtocolOptions(openHandshakeTimeout=5, closeHandshakeTimeout=2, maxMessagePayloadSize=0)
    server = await loop.create_server(factory, "127.0.0.1", 0)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    print("cases", " ".join(pending), flush=True)
    try:
        await asyncio.wait_for(all_done, 1500 if full else 120)
    except asyncio.TimeoutError:
        print("TIMEOUT waiting for", " ".join(pending), flush=True)
    server.close()


if sys.argv[1] == "client":
    sys.exit(1 if asyncio.run(run_client(sys.argv[2], "--full" in sys.argv)) else 0)
else:
    asyncio.run(run_server("--full" in sys.argv))
