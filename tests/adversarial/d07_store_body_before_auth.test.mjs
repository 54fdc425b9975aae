// D7 (issue #17): the store read the whole body before checking the secret: eight
// unauthenticated 60 MB POSTs took it from 16 MB to 486 MB. The secret is in the headers, so the
// answer (401) must come without reading or holding the body.
import { test } from 'node:test'
import { Checks, figure, startStore, tcpConnect, RssSampler, sleep } from './lib.mjs'

const POSTS = 8
const BODY_BYTES = 60 * 1000 * 1000
const RSS_GROWTH_BOUND_MB = 100
const CHUNK = Buffer.alloc(1 << 20, 0x41)

// Sends headers, then the body as fast as the socket takes it, until the server answers or
// closes. Resolves {status, sentBytes, ms}.
const unauthenticatedPost = async (store, room, auth) => {
  const c = await tcpConnect(store.port)
  const t0 = performance.now()
  c.sock.write(`POST /collaboration/snapshot?roomId=${room} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${BODY_BYTES}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`)
  let sent = 0
  const answered = () => c.data.indexOf('\r\n\r\n') !== -1 || c.ended
  while (sent < BODY_BYTES && !answered()) {
    const n = Math.min(CHUNK.length, BODY_BYTES - sent)
    const ok = c.sock.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    sent += n
    if (!ok) await new Promise(resolve => { const t = setTimeout(resolve, 200); c.sock.once('drain', () => { clearTimeout(t); resolve() }) })
  }
  const deadline = Date.now() + 60000
  while (!answered() && Date.now() < deadline) await sleep(20)
  const ms = performance.now() - t0
  c.sock.destroy()
  const m = c.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/)
  return { status: m ? Number(m[1]) : null, sentBytes: sent, ms }
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
    figure('D7', 'body_bytes_sent_before_the_answer_mb', JSON.stringify(results.map(r => +(r.sentBytes / 1e6).toFixed(1))))
    figure('D7', 'answer_ms', JSON.stringify(results.map(r => Math.round(r.ms))))
    figure('D7', 'rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}`)
    figure('D7', 'rss_growth_mb', growth)
    figure('D7', 'store', store.describeDeath())
    c.equal('store alive', store.describeDeath(), 'alive')
    c.check(results.every(r => r.status === 401), `every POST answered 401 (got ${JSON.stringify(results.map(r => r.status))})`)
    c.atMost('store RSS growth (MB)', growth, RSS_GROWTH_BOUND_MB, ' MB')
    // The answer comes from the headers: long before the whole body could have been sent.
    const maxSent = Math.max(...results.map(r => r.sentBytes))
    c.atMost('body bytes a client had sent when its 401 arrived (MB)', +(maxSent / 1e6).toFixed(1), BODY_BYTES / 2e6, ' MB')
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
