// Echo WebSocket server(s) on the ports given; also plain HTTP on the same port; /reject -> 403; /redirect -> 302
const http = require('http'); process.on('uncaughtException', e => console.error('uncaught', e.message)); const WebSocket = require('ws');
for (const port of process.argv.slice(2).map(Number)) {
  const srv = http.createServer((req, res) => { res.end('plain from ' + port); });
  const wss = new WebSocket.Server({ noServer: true, maxPayload: 64 << 20 });
  srv.on('upgrade', (req, sock, head) => {
    sock.on('error', () => {});
    if (req.url.startsWith('/reject')) { sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\n'); return; }
    if (req.url.startsWith('/keepreject')) { sock.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\n'); return; }
    wss.handleUpgrade(req, sock, head, ws => {
      ws.on('error', () => {});
      ws.send('hello ' + port + ' ' + (req.headers['cookie'] || ''));
      ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
    });
  });
  srv.keepAliveTimeout = 30000;
  srv.listen(port, '127.0.0.1');
}
