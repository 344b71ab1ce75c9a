// An independent client (Node ws 8) against our server.
// usage: node node_client_check.js WS_URL
// Sends text, binary and a 100 KB message; expects each echoed with its type; closes with 1000.
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2]);
const messages = [['hello from node', false], [Buffer.from([0, 1, 2, 255]), true], ['z'.repeat(100000), false]];
let i = 0;
const timer = setTimeout(() => { console.error('TIMEOUT'); process.exit(1); }, 10000);
ws.on('open', () => ws.send(messages[0][0], { binary: messages[0][1] }));
ws.on('message', (data, isBinary) => {
  const [expected, binary] = messages[i];
  if (!Buffer.from(expected).equals(Buffer.from(data)) || isBinary !== binary) {
    console.error('MISMATCH', i, isBinary); process.exit(1);
  }
  if (++i < messages.length) ws.send(messages[i][0], { binary: messages[i][1] }); else ws.close(1000, 'bye');
});
ws.on('close', code => { clearTimeout(timer); console.log('OK node client; close code', code); process.exit(code === 1000 ? 0 : 1); });
ws.on('error', e => { console.error('ERROR', e.message); process.exit(1); });
