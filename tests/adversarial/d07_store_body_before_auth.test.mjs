// D7 (issue #17): the store read the whole body before checking the secret: eight
// unauthenticated 60 MB POSTs took it from 16 MB to 486 MB. The secret is in the headers, so the
// answer (401) must come without reading or holding the body.
import { test } from 'node:test'
import { Checks, figure, startStore, tcpConnect, RssSampler, sleep } from './lib.mjs'

const POSTS = 8
const BODY_BYTES = 60 * 1000 * 1000
const RSS_GROWTH_BOUND_MB = 100
const CHUNK = Buffer.alloc(1 << 20, 0x41)

// Sends the headers and the first MB of the body, then waits: a server that needed the body before
// answering would stay silent here. Then sends the rest as fast as the socket takes it (the server
// reads and drops it after its answer, so that the answer is not lost to a reset) until the server
// closes. Resolves {status, answeredWithinFirstMb, sentBytes, ms}.
const unauthenticatedPost = async (store, room, auth) => {
  const c = await tcpConnect(store.port)
  const t0 = performance.now()
  c.sock.write(`POST /collaboration/snapshot?roomId=${room} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${BODY_BYTES}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`)
  c.sock.write(CHUNK)
  let sent = CHUNK.length
  const answered = () => c.data.indexOf('\r\n\r\n') !== -1 || c.ended
  const firstDeadline = Date.now() + 20000
  while (!answered() && Date.now() < firstDeadline) await sleep(10)
  const answeredWithinFirstMb = answered()
  const ms = performance.now() - t0
  while (sent < BODY_BYTES && !c.ended && !c.sock.destroyed) {
    const n = Math.min(CHUNK.length, BODY_BYTES - sent)
    const ok = c.sock.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    sent += n
    if (!ok) await new Promise(resolve => { const t = setTimeout(resolve, 200); c.sock.once('drain', () => { clearTimeout(t); resolve() }) })
  }
  c.sock.destroy()
  const m = c.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/)
  return { status: m ? Number(m[1]) : null, answeredWithinFirstMb, sentBytes: sent, ms }
}

test(`${POSTS} concurrent unauthenticated POSTs declaring ${BODY_BYTES / 1e6} MB -> 401 each, the body neither read nor held`, { timeout: 180000 }, async () => {
  const c = new Checks('D7')
  const store = await startStore()
  try {
    await sleep(300)
    const before = store.stats()
    const rss = new RssSampler(store, 20)
    const results = await Promise.all(Array.from({ length: POSTS }, (_, i) =>
      unauthenticatedPost(store, `victim-${i}`, i % 2 === 0 ? null : 'Bearer wrong-secret')))
    await sleep(500)
    const peak = rss.stop()
    const growth = peak - before.rssMB
    figure('D7', 'statuses', JSON.stringify(results.map(r => r.status)))
    figure('D7', 'answer_ms', JSON.stringify(results.map(r => Math.round(r.ms))))
    figure('D7', 'rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}`)
    figure('D7', 'rss_growth_mb', growth)
    figure('D7', 'store', store.describeDeath())
    c.equal('store alive', store.describeDeath(), 'alive')
    c.check(results.every(r => r.status === 401), `every POST answered 401 (got ${JSON.stringify(results.map(r => r.status))})`)
    c.atMost('store RSS growth (MB)', growth, RSS_GROWTH_BOUND_MB, ' MB')
    // The answer comes from the headers: it arrived while 1 MB of the declared 60 MB was sent.
    c.check(results.every(r => r.answeredWithinFirstMb),
      `every 401 arrived after the headers and 1 MB of the ${BODY_BYTES / 1e6} MB body (answered: ${JSON.stringify(results.map(r => r.answeredWithinFirstMb))})`)
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
