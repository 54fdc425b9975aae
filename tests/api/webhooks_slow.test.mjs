// A slow webhook receiver (answers after 3 s) must not delay rooms (issue #21): the latency of
// an edit from one y-websocket client to another is measured on a server without webhooks and on
// one whose webhooks go to the slow receiver while events keep coming (room.changed every
// 200 ms-1 s, joins and leaves in other rooms). p50 and max are printed as FIGURE lines; the slow
// case's p50 must stay within 3x the baseline p50 + 20 ms (generous for the debug build).
import { test, after } from 'node:test'
import {
  assert, startApiServer, wsClient, synced, destroyAll, sleep, figure, randomRoom, pair,
  Receiver, webhookSecret, webhookArgs, percentile, metric
} from './lib.mjs'

const EDITS = Number(process.env.TANDEM_API_SLOW_EDITS || 150)
const cleanup = []
after(async () => {
  for (const f of cleanup.reverse()) { try { await f() } catch {} }
})

// Edit latencies a -> b in `room`, `EDITS` edits every 20 ms, while `churn` rooms see joins
// and leaves (webhook events) in the background.
const measure = async (s, churnRooms) => {
  const [a, b] = await pair(s, randomRoom('slow-probe'))
  let churning = true
  const churn = (async () => {
    let i = 0
    while (churning) {
      const c = wsClient(s, churnRooms[i++ % churnRooms.length])
      await synced(c.provider).catch(() => {})
      c.doc.getMap('m').set('i', i)
      await sleep(30)
      destroyAll(c)
      await sleep(70)
    }
  })()
  const lat = []
  const map = b.doc.getMap('probe')
  // Warm-up.
  for (let i = 0; i < 10; i++) await once(a, map, `w${i}`)
  for (let i = 0; i < EDITS; i++) {
    lat.push(await once(a, map, `e${i}`))
    await sleep(20)
  }
  churning = false
  await churn
  destroyAll(a, b)
  return lat
}
const once = (a, map, key) => new Promise((resolve) => {
  const t0 = performance.now()
  const obs = () => {
    if (map.get('k') === key) { map.unobserve(obs); clearTimeout(timer); resolve(performance.now() - t0) }
  }
  const timer = setTimeout(() => { map.unobserve(obs); resolve(20000) }, 20000)
  map.observe(obs)
  a.doc.getMap('probe').set('k', key)
})

test('a slow webhook receiver does not delay update deliveries between clients', { timeout: 300000 }, async () => {
  const churnRooms = [randomRoom('churn'), randomRoom('churn'), randomRoom('churn')]
  // Without webhooks.
  const plain = await startApiServer()
  cleanup.push(async () => { await plain.stop(); plain.cleanup() })
  const base = await measure(plain, churnRooms)
  await plain.stop()
  // With webhooks to a receiver that answers after 3 s.
  const secret = webhookSecret()
  const r = await Receiver.start(secret, { mode: 'slow', slowMs: 3000 })
  cleanup.push(() => r.close())
  const s = await startApiServer({ args: webhookArgs(r, secret, { quiet: '200ms', max: '1s', timeout: '10s' }) })
  cleanup.push(async () => { await s.stop(); s.cleanup() })
  const slow = await measure(s, churnRooms)
  const pending = await metric(s, 'tandem_webhook_outbox_pending')
  const stats = (xs) => ({ p50: percentile(xs, 0.5), p90: percentile(xs, 0.9), max: Math.max(...xs) })
  const b = stats(base)
  const w = stats(slow)
  figure('webhooks', 'edits', EDITS)
  figure('webhooks', 'no_webhook_p50_ms', b.p50)
  figure('webhooks', 'no_webhook_p90_ms', b.p90)
  figure('webhooks', 'no_webhook_max_ms', b.max)
  figure('webhooks', 'slow_receiver_p50_ms', w.p50)
  figure('webhooks', 'slow_receiver_p90_ms', w.p90)
  figure('webhooks', 'slow_receiver_max_ms', w.max)
  figure('webhooks', 'slow_receiver_requests', r.requests.length)
  figure('webhooks', 'outbox_pending_at_end', pending)
  assert.ok(r.requests.length >= 3, `the slow receiver got only ${r.requests.length} requests: webhooks were not in play`)
  assert.ok(pending > 0, 'no events were waiting for the slow receiver: it did not fall behind')
  const bound = 3 * b.p50 + 20
  assert.ok(w.p50 <= bound, `p50 ${w.p50.toFixed(1)} ms with the slow receiver, bound ${bound.toFixed(1)} ms (3x the ${b.p50.toFixed(1)} ms baseline + 20)`)
  assert.ok(w.max < 2500, `an edit took ${w.max.toFixed(0)} ms with a receiver that answers after 3 s`)
  assert.deepStrictEqual(r.badSignatures.map(x => x.error), [])
})
