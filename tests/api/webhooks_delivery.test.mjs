// Webhook delivery is at least once (issue #21): with the receiver answering 503 or refusing
// connections for a while, then up again, every event arrives (duplicates allowed, none lost,
// compared by webhook-id with what was attempted and by content with what was caused), also across
// a kill -9 of the server while events are pending in the outbox; an event past
// --webhook-retry-for is dropped and counted. Every request's signature is verified.
import { test, after } from 'node:test'
import {
  assert, startApiServer, postEditOk, wsClient, synced, destroyAll, sleep, figure, randomRoom,
  Receiver, webhookSecret, webhookArgs, assertEnvelope, metric, waitFor
} from './lib.mjs'

const cleanup = []
after(async () => {
  for (const f of cleanup.reverse()) { try { await f() } catch {} }
})
const server = async (opts) => {
  const s = await startApiServer(opts)
  cleanup.push(async () => { await s.stop(); s.cleanup() })
  return s
}
const receiver = async (secret, opts) => {
  const r = await Receiver.start(secret, opts)
  cleanup.push(() => r.close())
  return r
}

const assertAllVerified = (r) => {
  assert.deepStrictEqual(r.badSignatures.map(x => `${x.error}: ${x.body.slice(0, 200)}`), [], 'deliveries whose signature did not verify')
  for (const rec of r.requests) assertEnvelope(rec)
}

// Every id the receiver was ever asked to take is among the delivered ones, with the same body.
const missingIds = (r) => {
  const delivered = new Map(r.delivered.map(x => [x.id, x.body]))
  const problems = []
  for (const x of r.requests) {
    if (!delivered.has(x.id)) problems.push(`never delivered: ${x.id} ${x.body.slice(0, 120)}`)
    else if (delivered.get(x.id) !== x.body) problems.push(`id ${x.id} carried two bodies: ${x.body.slice(0, 120)} / ${delivered.get(x.id).slice(0, 120)}`)
  }
  return problems
}

// Activity in `rooms`: a client joins, edits and leaves each; resolves the events that must come
// of it ({type, room} pairs; room.changed with the final state vector's content checked apart).
const activity = async (s, rooms) => {
  const expected = []
  for (const room of rooms) {
    const c = wsClient(s, room)
    await synced(c.provider)
    c.doc.getText('t').insert(0, room)
    await waitFor(async () => (await fetch(`${s.http}/api/v1/rooms/${encodeURIComponent(room)}`, { headers: { Authorization: `Bearer ${s.apiSecret}` } }).then(r => r.json())).t === room, `${room} to hold the edit`)
    destroyAll(c)
    expected.push({ type: 'user.joined', room }, { type: 'room.changed', room }, { type: 'user.left', room }, { type: 'room.empty', room })
  }
  return expected
}
const lacking = (r, expected) => expected.filter(e => !r.delivered.some(x => x.event.type === e.type && x.event.data.room === e.room))

test('receiver answering 503, then refusing connections, then up: every event arrives', { timeout: 180000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret, { mode: 503 })
  const s = await server({ args: webhookArgs(r, secret, { quiet: '100ms', max: '500ms', maxBackoff: '300ms', retryFor: '10m' }) })
  const prefix = randomRoom('whd')
  const expected = await activity(s, [`${prefix}-a`, `${prefix}-b`])
  await r.until(() => lacking({ delivered: r.requests.filter(x => x.verified) }, expected).length === 0, 'every event to be attempted (answered 503)', 20000)
  // Refused connections for a while, with more events meanwhile.
  await r.refuse()
  expected.push(...await activity(s, [`${prefix}-c`, `${prefix}-d`]))
  await sleep(1000)
  const pending = await metric(s, 'tandem_webhook_outbox_pending')
  const retries = await metric(s, 'tandem_webhook_retries_total')
  figure('webhooks_delivery', 'pending_while_down', pending)
  figure('webhooks_delivery', 'retries_while_down', retries)
  assert.ok(pending >= expected.length, `tandem_webhook_outbox_pending ${pending} while ${expected.length} events are undelivered`)
  assert.ok(retries > 0, `tandem_webhook_retries_total ${retries}`)
  // Up again.
  r.mode = 'ok'
  await r.accept()
  await r.until(() => lacking(r, expected).length === 0 && missingIds(r).length === 0, 'every event to be delivered', 30000).catch(() => {})
  assert.deepStrictEqual(lacking(r, expected), [], 'events never delivered')
  assert.deepStrictEqual(missingIds(r), [], 'ids attempted but never delivered')
  await waitFor(async () => await metric(s, 'tandem_webhook_outbox_pending') === 0, 'the outbox to empty')
  const dup = r.delivered.length - new Set(r.delivered.map(x => x.id)).size
  figure('webhooks_delivery', 'delivered', r.delivered.length)
  figure('webhooks_delivery', 'duplicates', dup)
  figure('webhooks_delivery', 'attempts', r.requests.length)
  assert.ok(await metric(s, 'tandem_webhook_deliveries_total') >= new Set(r.delivered.map(x => x.id)).size)
  assert.equal(await metric(s, 'tandem_webhook_drops_total'), 0)
  assertAllVerified(r)
})

test('pending events survive kill -9 of the server', { timeout: 180000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret, { mode: 503 })
  const args = webhookArgs(r, secret, { quiet: '100ms', max: '500ms', maxBackoff: '300ms', retryFor: '10m' })
  const s1 = await server({ args })
  const prefix = randomRoom('whk')
  const expected = await activity(s1, [`${prefix}-a`, `${prefix}-b`])
  // Some attempted (503), then the receiver refuses: the rest are only in the outbox.
  await r.until(() => r.requests.length >= 2, 'some attempts')
  await r.refuse()
  const svs = []
  for (const room of [`${prefix}-c`, `${prefix}-d`]) {
    svs.push({ room, sv: (await postEditOk(s1, room, [{ op: 'map.set', type: 'm', key: 'k', value: room }])).stateVector })
  }
  await waitFor(async () => await metric(s1, 'tandem_webhook_outbox_pending') >= expected.length + 2, 'every event in the outbox', 15000)
  const pending = await metric(s1, 'tandem_webhook_outbox_pending')
  figure('webhooks_kill9', 'pending_at_kill', pending)
  const seenBefore = new Set(r.requests.map(x => x.id))
  s1.proc.kill('SIGKILL')
  await s1.exited
  const s2 = await server({ dataDir: s1.dataDir, port: s1.port, args })
  r.mode = 'ok'
  await r.accept()
  const changedWith = (room, sv) => r.delivered.some(x => x.event.type === 'room.changed' && x.event.data.room === room && x.event.data.stateVector === sv)
  await r.until(() => lacking(r, expected).length === 0 && missingIds(r).length === 0 && svs.every(({ room, sv }) => changedWith(room, sv)), 'every event after the restart', 30000).catch(() => {})
  assert.deepStrictEqual(lacking(r, expected), [], 'events lost across kill -9')
  assert.deepStrictEqual(missingIds(r), [], 'ids attempted before kill -9 never delivered')
  for (const { room, sv } of svs) assert.ok(changedWith(room, sv), `room.changed for ${room} with state vector ${sv} lost across kill -9`)
  // Ids attempted before the kill came again with the same id.
  for (const id of seenBefore) assert.ok(r.delivered.some(x => x.id === id), `id ${id} not retried after the restart`)
  await waitFor(async () => await metric(s2, 'tandem_webhook_outbox_pending') === 0, 'the outbox to empty after the restart')
  figure('webhooks_kill9', 'delivered_after_restart', r.delivered.length)
  assertAllVerified(r)
})

test('an event undelivered for --webhook-retry-for is dropped and counted', { timeout: 60000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret, { mode: 503 })
  const s = await server({ args: webhookArgs(r, secret, { quiet: '100ms', max: '500ms', maxBackoff: '200ms', retryFor: '1s' }) })
  await postEditOk(s, randomRoom('whdrop'), [{ op: 'map.set', type: 'm', key: 'k', value: 1 }])
  await r.until(() => r.requests.length >= 1, 'the first attempt')
  await waitFor(async () => await metric(s, 'tandem_webhook_drops_total') >= 1, 'the event to be dropped', 15000)
  await waitFor(async () => await metric(s, 'tandem_webhook_outbox_pending') === 0, 'the outbox to empty')
  const attempts = r.requests.length
  figure('webhooks_drop', 'attempts_before_drop', attempts)
  assert.ok(attempts >= 2, `${attempts} attempts in 1 s with a 200 ms backoff cap`)
  await sleep(800)
  assert.equal(r.requests.length, attempts, 'attempts after the drop')
  assertAllVerified(r)
})
