const WebSocket = require('ws'); const crypto = require('crypto'); const http = require('http');
const URL = 'ws://127.0.0.1:37031';
const log = (...a) => console.log(...a);
function open(path, opts = {}) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(URL + path, opts); const msgs = []; let waiters = [];
    ws.on('message', (m, bin) => { msgs.push({ m, bin }); const w = waiters; waiters = []; w.forEach(f => f()); });
    ws.next = () => new Promise(r => { if (msgs.length) return r(msgs.shift()); waiters.push(() => r(msgs.shift())); });
    ws.on('open', () => res(ws)); ws.on('error', rej);
    ws.on('unexpected-response', (req, resp) => { let b = ''; resp.on('data', d => b += d); resp.on('end', () => rej(new Error('unexpected ' + resp.statusCode + ' ' + b))); });
    ws.on('upgrade', resp => { ws.upgradeHeaders = resp.headers; });
  });
}
const timeout = (p, ms, what) => Promise.race([p, new Promise((_, r) => setTimeout(() => r(new Error('timeout ' + what)), ms))]);
(async () => {
  const ws = await open('/echo');
  log('hello:', (await ws.next()).m.toString(), 'upgrade headers:', JSON.stringify(ws.upgradeHeaders));
  ws.send('text frame ü'); let r = await ws.next(); log('text', r.m.toString() === 'text frame ü' && !r.bin ? 'PASS' : 'FAIL');
  ws.send(Buffer.from([0, 1, 2, 255])); r = await ws.next(); log('binary', r.bin && Buffer.compare(r.m, Buffer.from([0, 1, 2, 255])) === 0 ? 'PASS' : 'FAIL');
  for (const size of [1 << 20, (1 << 20) + 7, 8 << 20]) {
    const big = crypto.randomBytes(size); const t0 = Date.now(); ws.send(big); r = await timeout(ws.next(), 20000, 'big');
    log(`${size} byte binary echo`, Buffer.compare(r.m, big) === 0 ? 'PASS' : 'FAIL', Date.now() - t0, 'ms');
  }
  const bigt = 'é'.repeat(1 << 19); ws.send(bigt); r = await ws.next(); log('1 MiB text echo', r.m.toString() === bigt ? 'PASS' : 'FAIL');
  // 50 interleaved messages
  for (let i = 0; i < 50; i++) ws.send('m' + i);
  let okseq = true; for (let i = 0; i < 50; i++) { r = await ws.next(); if (r.m.toString() !== 'm' + i) okseq = false; } log('50 messages in order', okseq ? 'PASS' : 'FAIL');
  const pong = new Promise(res => ws.once('pong', d => res(d.toString()))); ws.ping('pingdata'); log('ping/pong', (await timeout(pong, 3000, 'pong')) === 'pingdata' ? 'PASS' : 'FAIL');
  const closed = new Promise(res => ws.once('close', (code, reason) => res([code, reason.toString()]))); ws.close(4001, 'bye'); log('close handshake', JSON.stringify(await timeout(closed, 3000, 'close')));
  // non-101
  try { await open('/reject'); log('reject FAIL (opened)'); } catch (e) { log('non-101 passed to client:', e.message); }
  // idle timeout 3s: idle tunnel closed; busy tunnel survives
  const idle = await open('/echo'); await idle.next(); const t0 = Date.now();
  const busy = await open('/echo'); await busy.next(); let busyClosed = false; busy.on('close', () => busyClosed = true);
  const iv = setInterval(() => busy.send('tick'), 1000);
  const ic = await timeout(new Promise(res => idle.once('close', (c) => res(c))), 8000, 'idle close');
  log('idle tunnel closed after', Date.now() - t0, 'ms code', ic, '(idle_timeout 3s)');
  await new Promise(r => setTimeout(r, 2500)); clearInterval(iv);
  log('busy tunnel (1 msg/s) still open after 5.5s:', !busyClosed ? 'PASS' : 'FAIL'); busy.close();
  // sticky cookie
  const s1 = await open('/sticky'); const h1 = (await s1.next()).m.toString(); const sc = s1.upgradeHeaders['set-cookie']; s1.close();
  log('sticky first:', h1, 'set-cookie on 101:', JSON.stringify(sc));
  if (sc) {
    const cookie = sc[0].split(';')[0]; const seen = new Set();
    for (let i = 0; i < 6; i++) { const s = await open('/sticky', { headers: { Cookie: cookie } }); const m = (await s.next()).m.toString(); seen.add(m.split(' ')[1]); s.close(); }
    log('sticky cookie on upgrade: backends seen with cookie', [...seen], seen.size === 1 ? 'PASS' : 'FAIL');
  }
  const seen2 = new Set(); for (let i = 0; i < 6; i++) { const s = await open('/ipsticky'); seen2.add((await s.next()).m.toString().split(' ')[1]); s.close(); }
  log('source_ip sticky on upgrade:', [...seen2], seen2.size === 1 ? 'PASS' : 'FAIL');
  const seen3 = new Set(); for (let i = 0; i < 6; i++) { const s = await open('/sticky'); seen3.add((await s.next()).m.toString().split(' ')[1]); s.close(); }
  log('cookie pool without cookie spreads:', [...seen3]);
  process.exit(0);
})().catch(e => { log('ERROR', e); process.exit(1); });
