// The interop matrix's Node ws 8 peer: the same checks and server requests as interop_py.py (read its header).
//   node interop_node.js client CHECK URL | node interop_node.js server SECONDS
const { WebSocket, WebSocketServer } = require('ws');

const TEXT = 'héllo ✓ 😀 漢字 שלום';
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const MIB = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 31) % 251));
const COMPRESSIBLE = 'local websocket '.repeat(65536);

function client(check, url) {
  const ws = new WebSocket(url, { perMessageDeflate: check === 'deflate', maxPayload: 1 << 24 });
  const fail = why => { console.log('FAIL', check, why); process.exit(1); };
  const pass = () => { console.log('PASS', check); ws.terminate(); process.exit(0); };
  const timer = setTimeout(() => fail('timeout'), 10000);
  ws.on('error', e => fail(e.message));
  // Messages to send and what must come back, in order; each arrives before the next goes.
  const expect = [];
  const roundTrips = (...messages) => {
    expect.push(...messages);
    const next = () => { const m = expect[0]; ws.send(m, { binary: typeof m !== 'string' }); };
    ws.on('message', (data, isBinary) => {
      const want = expect.shift();
      const same = typeof want === 'string' ? !isBinary && data.toString() === want : isBinary && Buffer.compare(data, want) === 0;
      if (!same) fail(`sent ${typeof want === 'string' ? 'text' : 'binary'} of ${want.length}, got ${isBinary ? 'binary' : 'text'} of ${data.length}`);
      if (expect.length) next(); else { clearTimeout(timer); pass(); }
    });
    next();
  };
  ws.on('open', () => {
    switch (check) {
      case 'text': return roundTrips(TEXT);
      case 'binary': return roundTrips(BINARY);
      case 'empty': return roundTrips('', Buffer.alloc(0));
      case '1mib': return roundTrips(MIB);
      case 'fragmented':
        ws.on('message', (data, isBinary) => (!isBinary && data.toString() === 'fragmented ✓' ? pass() : fail('got ' + data)));
        ws.send('frag', { fin: false }); ws.send('men', { fin: false }); ws.send('ted ✓', { fin: true });
        return;
      case 'ping':
        ws.on('pong', data => (data.toString() === 'ping-123' ? pass() : fail('pong ' + data)));
        return ws.ping('ping-123');
      case 'close-by-client':
        ws.on('close', code => (code === 4000 ? pass() : fail('close ' + code)));
        return ws.close(4000, 'client bye');
      case 'close-by-server':
        ws.on('close', (code, reason) => (code === 4001 && reason.toString() === 'server bye' ? pass() : fail(`close ${code} ${reason}`)));
        return ws.send('close me');
      case 'deflate':
        if (!ws.extensions.startsWith('permessage-deflate')) fail('extensions: ' + ws.extensions);
        return roundTrips(COMPRESSIBLE, MIB);
      default: fail('unknown check');
    }
  });
}

function server(seconds) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, maxPayload: 1 << 24 });
  wss.on('listening', () => console.log('listening', wss.address().port));
  wss.on('connection', ws => {
    console.log('EXT', ws.extensions || 'none');
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text === 'fragment please') {
        ws.send('fragmented', { fin: false }); ws.send(' reply', { fin: false }); ws.send(' ✓', { fin: true });
      } else if (text === 'ping please') {
        ws.once('pong', d => ws.send('pong ' + d));
        ws.ping('ping-456');
      } else if (text && text.startsWith('close ')) {
        const [, code, ...reason] = text.split(' ');
        ws.close(+code, reason.join(' '));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code, reason) => console.log('CLOSED', code, reason.toString()));
  });
  setTimeout(() => { wss.close(); process.exit(0); }, seconds * 1000);   // bounded lifetime
}

if (process.argv[2] === 'client') client(process.argv[3], process.argv[4]);
else server(+process.argv[3] || 60);
