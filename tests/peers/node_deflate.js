// permessage-deflate with Node ws 8 (its own RFC 7692 code on Node's zlib), both roles.
//   node node_deflate.js client WS_URL   against our echoing server, one connection per variant
//   node node_deflate.js server SECONDS  echo servers, one per variant: prints "listening NAME PORT"
// As py_deflate.py: 0 B to 16 MiB one at a time, then 1,000 in a row; "OK NAME extensions=..." or
// "FAIL NAME why" per variant, then "N variants, N failed". threshold 0: ws compresses even tiny messages.
const WebSocket = require('ws');

const VARIANTS = {
  default: { threshold: 0 },
  'no-context-takeover': { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
  'windows-9': { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
};
const SIXTEEN_MIB = 16 * 1024 * 1024;

function payloads() {
  const line = Buffer.from('LocalWebSocket compresses this line of text well. ');
  return [[0, false], [0, true], [1, false], [65536, true], [1024 * 1024, false], [SIXTEEN_MIB, true]].map(([size, binary]) => {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += line.length) line.copy(data, i, 0, Math.min(line.length, size - i));
    return [data, binary];
  });
}

function checkVariant(url, name, options) {
  return new Promise(resolve => {
    const ws = new WebSocket(url, { perMessageDeflate: options, maxPayload: SIXTEEN_MIB });
    const expected = payloads();
    const burst = Array.from({ length: 1000 }, (_, i) => `message ${String(i).padStart(4, '0')} ` + 'x'.repeat(i % 200));
    let index = 0, inBurst = -1, problem = null;
    const timer = setTimeout(() => { problem = 'timeout'; ws.terminate(); }, 60000);
    const send = () => ws.send(expected[index][0], { binary: expected[index][1] });
    ws.on('open', () => {
      if (!ws.extensions) { problem = 'not negotiated'; ws.close(1000); } else send();
    });
    ws.on('message', (data, isBinary) => {
      if (inBurst < 0) {
        const [payload, binary] = expected[index];
        if (isBinary !== binary || !payload.equals(Buffer.from(data))) { problem = `echo of a ${payload.length}-byte message differs`; ws.close(1000); return; }
        if (++index < expected.length) { send(); return; }
        inBurst = 0;
        for (const message of burst) ws.send(message);
        return;
      }
      if (isBinary || data.toString() !== burst[inBurst]) { problem = `message ${inBurst} of 1000 out of order or changed`; ws.close(1000); return; }
      if (++inBurst === burst.length) ws.close(1000);
    });
    ws.on('error', e => { problem = problem || e.message; });
    ws.on('close', () => {
      clearTimeout(timer);
      // ws names the extension in .extensions; the agreed parameters are on its extension object.
      const deflate = ws._extensions && ws._extensions['permessage-deflate'];
      const negotiated = deflate ? 'permessage-deflate' + Object.entries(deflate.params).map(([k, v]) => `; ${k}${v === true ? '' : '=' + v}`).join('') : null;
      console.log(problem ? `FAIL ${name} ${problem}` : `OK ${name} extensions=${negotiated}`);
      resolve(problem === null);
    });
  });
}

async function client(url) {
  let failed = 0;
  for (const [name, options] of Object.entries(VARIANTS)) if (!await checkVariant(url, name, options)) failed++;
  console.log(`${Object.keys(VARIANTS).length} variants, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function server(seconds) {
  for (const [name, options] of Object.entries(VARIANTS)) {
    const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: options, maxPayload: SIXTEEN_MIB }, () =>
      console.log(`listening ${name} ${wss.address().port}`));
    wss.on('connection', ws => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  }
  setTimeout(() => process.exit(0), seconds * 1000);
}

if (process.argv[2] === 'client') client(process.argv[3]); else server(Number(process.argv[3]));
