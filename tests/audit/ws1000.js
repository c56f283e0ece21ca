const WebSocket = require('ws'); const http = require('http'); const fs = require('fs');
const N = Number(process.argv[2] || 1000); const PID = process.argv[3];
const rss = () => fs.readFileSync(`/proc/${PID}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1] + ' kB';
const get = () => new Promise(res => http.get('http://127.0.0.1:37031/plain', r => { let b=''; r.on('data', d => b += d); r.on('end', () => res(r.statusCode)); }).on('error', e => res(e.code)));
(async () => {
  const t0 = Date.now(); const socks = []; let opened = 0, failed = 0;
  log = console.log; log('rss before', rss());
  await Promise.all(Array.from({ length: N }, (_, i) => new Promise(res => {
    const ws = new WebSocket('ws://127.0.0.1:37031/echo'); socks.push(ws);
    let first = true;
    ws.on('message', m => { if (first) { first = false; ws.send('id' + i); } else { ws.got = m.toString(); res(); } });
    ws.on('open', () => opened++); ws.on('error', e => { failed++; ws.err = e.message; res(); });
  })));
  const ok = socks.filter((w, i) => w.got === 'id' + i).length;
  log(`${N} tunnels: opened ${opened}, echo ok ${ok}, failed ${failed}, ${Date.now() - t0} ms, rss ${rss()}`);
  const codes = await Promise.all(Array.from({ length: 50 }, get));
  log('50 plain requests while tunnels open:', JSON.stringify(codes.reduce((a, c) => (a[c] = (a[c] || 0) + 1, a), {})));
  // second round of traffic on all tunnels
  let ok2 = 0; await Promise.all(socks.map((w, i) => new Promise(res => { w.once('message', m => { if (m.toString() === 'r2-' + i) ok2++; res(); }); w.send('r2-' + i); })));
  log('second round echo ok', ok2);
  const m = await (await fetch('http://127.0.0.1:37902/metrics')).text();
  log(m.split('\n').filter(l => l.startsWith('fulcrum_websocket_tunnels_active') || l.startsWith('fulcrum_downstream_connections_active')).join('\n'));
  socks.forEach(w => w.close()); await new Promise(r => setTimeout(r, 1500));
  const m2 = await (await fetch('http://127.0.0.1:37902/metrics')).text();
  log('after close:', m2.split('\n').filter(l => l.startsWith('fulcrum_websocket_tunnels_active')).join(' '), 'rss', rss());
  process.exit(0);
})();
