"""Opens COUNT WebSocket connections to 127.0.0.1:PORT, completes each handshake, keeps them idle for
SECONDS, then closes them. Standard library only; loopback only. Prints "held N" once all are open."""
import socket
import sys
import time

port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
request = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
held = []
for _ in range(count):
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        chunk = connection.recv(4096)
        if not chunk:
            sys.exit("the server closed a connection during its handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sys.exit("refused: " + head.split(b"\r\n", 1)[0].decode("latin-1"))
    held.append(connection)
print("held", len(held), flush=True)
time.sleep(seconds)
