// The Node ws anchor of bench/run.sh: GET / details with one Server header, /ws echo or broadcast.
// usage: node server.js PORT echo|broadcast ; bound to 127.0.0.1; ends on SIGTERM.
const http = require('http');
const { WebSocketServer } = require('ws');
const port = +process.argv[2];
const echo = process.argv[3] === 'echo';
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/' ? 200 : 404, { 'Server': 'local-websocket/1.0.0', 'Content-Type': 'application/json; charset=utf-8' });
  res.end('{"name":"node ws"}');
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
wss.on('connection', ws => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if ((echo || client !== ws) && client.readyState === 1) client.send(data, { binary: isBinary });
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log('listening', port));
process.on('SIGTERM', () => process.exit(0));
