// Webhook events (issue #21): a receiver in this process verifies every delivery with the npm
// `standardwebhooks` package; every event type is seen with its documented data; room.changed is
// debounced (quiet 200 ms, at most 1 s while edits continue); a receiver answering 410 is
// unsubscribed. Timing bounds are generous for the debug (ASan) build.
import { test, after } from 'node:test'
import {
  assert, Y, startApiServer, api, roomPath, show, postEditOk, wsClient, synced, destroyAll,
  sleep, figure, randomRoom, Receiver, webhookSecret, webhookArgs, assertEnvelope, b64, metric, signJwt
} from './lib.mjs'

const JWT_SECRET = 'jwt-secret-for-webhook-tests'
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
const client = (s, room, params) => {
  const c = wsClient(s, room, { params })
  cleanup.push(() => destroyAll(c))
  return c
}
const token = (sub, access) => signJwt(JWT_SECRET, { sub, rooms: ['*'], access, exp: Math.floor(Date.now() / 1000) + 3600 })

const assertAllVerified = (r) => {
  assert.deepStrictEqual(r.badSignatures.map(x => `${x.error}: ${x.body.slice(0, 200)}`), [], 'deliveries whose signature did not verify')
  for (const rec of r.requests) assertEnvelope(rec)
}
const sortedTypes = (e) => [...e.data.types].sort()

test('every event type arrives signed, with its data', { timeout: 120000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret)
  const s = await server({
    args: ['--auth', 'jwt', '--jwt-secret', JWT_SECRET, ...webhookArgs(r, secret),
      '--save-interval', '300ms', '--disconnect-debounce', '100ms', '--room-idle-unload', '10m']
  })
  const room = randomRoom('wh-events')
  const alice = client(s, room, { token: token('alice', 'write') })
  await synced(alice.provider)
  const bob = client(s, room, { token: token('bob', 'read') })
  await synced(bob.provider)
  await r.until(() => r.events('user.joined').length >= 2, 'two user.joined')
  const joined = r.events('user.joined').map(x => x.event.data)
  const aj = joined.find(d => d.user === 'alice')
  const bj = joined.find(d => d.user === 'bob')
  assert.ok(aj && bj, `user.joined for alice and bob: ${JSON.stringify(joined)}`)
  assert.deepStrictEqual(Object.keys(aj).sort(), ['connection', 'readOnly', 'room', 'user'])
  assert.equal(aj.room, room)
  assert.equal(aj.readOnly, false)
  assert.equal(bj.readOnly, true)
  assert.equal(typeof aj.connection, 'number')
  assert.notEqual(aj.connection, bj.connection)

  // room.changed: the types changed and the state vector after them.
  alice.doc.transact(() => {
    alice.doc.getText('document').insert(0, 'Hello')
    alice.doc.getArray('tasks').push(['t1'])
  })
  const sv = b64(Y.encodeStateVector(alice.doc))
  await r.until(() => r.events('room.changed').some(x => x.event.data.stateVector === sv), 'room.changed with the client\'s state vector')
  const changed = r.events('room.changed').find(x => x.event.data.stateVector === sv).event.data
  assert.deepStrictEqual(Object.keys(changed).sort(), ['room', 'stateVector', 'types'])
  assert.equal(changed.room, room)
  assert.deepStrictEqual(sortedTypes({ data: changed }), ['document', 'tasks'])
  // An API edit: a room.changed naming only its root.
  const j = await postEditOk(s, room, [{ op: 'map.set', type: 'meta', key: 'title', value: 'T' }])
  await r.until(() => r.events('room.changed').some(x => x.event.data.stateVector === j.stateVector), 'room.changed after an API edit')
  assert.deepStrictEqual(sortedTypes(r.events('room.changed').find(x => x.event.data.stateVector === j.stateVector).event), ['meta'])

  // room.saved (the embedded store, 300 ms save interval).
  await r.until(() => r.events('room.saved').some(x => x.event.data.room === room), 'room.saved')
  const saved = r.events('room.saved').find(x => x.event.data.room === room).event.data
  assert.deepStrictEqual(Object.keys(saved).sort(), ['bytes', 'room'])
  assert.ok(Number.isInteger(saved.bytes) && saved.bytes > 0, JSON.stringify(saved))

  // Leaving: user.left for each (same connection numbers), then room.empty once.
  destroyAll(bob)
  await r.until(() => r.events('user.left').some(x => x.event.data.user === 'bob'), 'user.left for bob')
  assert.equal(r.events('room.empty').filter(x => x.event.data.room === room).length, 0, 'room.empty while alice is still in')
  destroyAll(alice)
  await r.until(() => r.events('room.empty').some(x => x.event.data.room === room), 'room.empty')
  const left = r.events('user.left').map(x => x.event.data)
  assert.deepStrictEqual(left.find(d => d.user === 'alice'), aj, 'user.left data equals user.joined data for alice')
  assert.deepStrictEqual(left.find(d => d.user === 'bob'), bj, 'user.left data equals user.joined data for bob')
  assert.deepStrictEqual(r.events('room.empty').find(x => x.event.data.room === room).event.data, { room })

  // room.deleted.
  const del = await api(s, 'DELETE', roomPath(room))
  assert.equal(del.status, 200, show(del))
  await r.until(() => r.events('room.deleted').some(x => x.event.data.room === room), 'room.deleted')
  assert.deepStrictEqual(r.events('room.deleted').find(x => x.event.data.room === room).event.data, { room })

  // Every request verified; one id per event (no retries were needed: ids are unique).
  assertAllVerified(r)
  const ids = r.delivered.map(x => x.id)
  assert.equal(new Set(ids).size, ids.length, 'a webhook-id was used for two events')
  const deliveries = await metric(s, 'tandem_webhook_deliveries_total')
  assert.ok(deliveries >= r.delivered.length, `tandem_webhook_deliveries_total ${deliveries} < ${r.delivered.length} delivered`)
  assert.equal(await metric(s, 'tandem_webhook_outbox_pending'), 0)
  figure('webhooks_events', 'events', r.delivered.length)
  for (const t of ['user.joined', 'user.left', 'room.changed', 'room.saved', 'room.empty', 'room.deleted']) figure('webhooks_events', t.replace('.', '_'), r.events(t).length)
})

test('room.save_failed when the store is down', { timeout: 60000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret)
  // The room gets local state first (embedded store), so it loads from its log later on.
  const room = randomRoom('wh-savefail')
  const first = await server()
  await postEditOk(first, room, [{ op: 'map.set', type: 'm', key: 'k', value: 1 }])
  await first.stop()
  // Restarted on the same data dir with a store that refuses connections (port 9, discard).
  const s = await server({
    dataDir: first.dataDir,
    args: [...webhookArgs(r, secret), '--snapshot-url', 'http://127.0.0.1:9', '--snapshot-secret', 'x',
      '--save-interval', '200ms', '--disconnect-debounce', '100ms', '--snapshot-timeout', '500ms', '--save-retry', '100ms']
  })
  await postEditOk(s, room, [{ op: 'map.set', type: 'm', key: 'k', value: 2 }])
  const c = client(s, room)
  await synced(c.provider)
  c.doc.getMap('m').set('k', 3)
  await r.until(() => r.events('room.save_failed').some(x => x.event.data.room === room), 'room.save_failed', 20000)
  const f = r.events('room.save_failed').find(x => x.event.data.room === room).event.data
  assert.deepStrictEqual(Object.keys(f).sort(), ['error', 'room'])
  assert.equal(typeof f.error, 'string')
  assert.ok(f.error.length > 0)
  assertAllVerified(r)
})

test('room.changed is debounced: one event ~quiet after a single edit; at most every max during a burst', { timeout: 120000 }, async () => {
  const secret = webhookSecret()
  const r = await receiver(secret)
  const s = await server({ args: webhookArgs(r, secret, { quiet: '200ms', max: '1s' }) })
  const room = randomRoom('wh-debounce')
  // A single edit.
  const t0 = performance.now()
  const j = await postEditOk(s, room, [{ op: 'map.set', type: 'm', key: 'k', value: 1 }])
  await r.until(() => r.events('room.changed').length >= 1, 'room.changed after one edit', 10000)
  const single = r.events('room.changed')[0].at - t0
  figure('webhooks_debounce', 'single_edit_to_event_ms', single)
  assert.equal(r.events('room.changed')[0].event.data.stateVector, j.stateVector)
  await sleep(1500)
  const afterSingle = r.events('room.changed').length
  figure('webhooks_debounce', 'events_after_single_edit', afterSingle)
  assert.equal(afterSingle, 1, 'one edit gave more than one room.changed')
  assert.ok(single >= 180, `room.changed came ${single.toFixed(0)} ms after the edit, before the 200 ms quiet period`)
  assert.ok(single <= 900, `room.changed came ${single.toFixed(0)} ms after the edit (quiet 200 ms)`)

  // A burst: an edit every 50 ms for 3.5 s through a provider (ending mid-way through a max
  // window, so the last event is the quiet one).
  const c = client(s, room)
  await synced(c.provider)
  const base = r.events('room.changed').length
  const start = performance.now()
  let n = 0
  let last = start
  while (performance.now() - start < 3500) {
    c.doc.getMap('burst').set('n', ++n)
    last = performance.now()
    await sleep(50)
  }
  const finalSv = b64(Y.encodeStateVector(c.doc))
  await r.until(() => r.events('room.changed').some(x => x.event.data.stateVector === finalSv), 'the room.changed with the final state', 10000)
  await sleep(600)
  const burst = r.events('room.changed').slice(base).map(x => x.at - start)
  figure('webhooks_debounce', 'burst_edits', n)
  figure('webhooks_debounce', 'burst_events', burst.length)
  figure('webhooks_debounce', 'burst_event_times_ms', burst.map(x => x.toFixed(0)).join(','))
  const gaps = burst.slice(1).map((x, i) => x - burst[i])
  figure('webhooks_debounce', 'burst_gaps_ms', gaps.map(x => x.toFixed(0)).join(','))
  figure('webhooks_debounce', 'final_event_after_last_edit_ms', burst[burst.length - 1] - (last - start))
  // ≈ 1 s, 2 s, 3 s while editing, then one ≈ 200 ms after the last edit.
  assert.ok(burst.length >= 3 && burst.length <= 5, `${burst.length} room.changed events for a 3.5 s burst (max 1 s)`)
  assert.ok(burst[0] >= 800 && burst[0] <= 1600, `first event of the burst at ${burst[0].toFixed(0)} ms (max 1 s)`)
  for (const g of gaps.slice(0, -1)) assert.ok(g >= 700 && g <= 1600, `gap ${g.toFixed(0)} ms between events of a burst (max 1 s)`)
  const tail = burst[burst.length - 1] - (last - start)
  assert.ok(tail >= 150 && tail <= 1200, `last event ${tail.toFixed(0)} ms after the last edit (quiet 200 ms)`)
  for (const x of r.events('room.changed').slice(base)) assert.deepStrictEqual(x.event.data.types, ['burst'])
  // Without auth (--auth none) the user is null.
  await r.until(() => r.events('user.joined').length >= 1, 'user.joined of the burst client')
  assert.equal(r.events('user.joined')[0].event.data.user, null, 'user.joined without auth')
  assertAllVerified(r)
})

test('a receiver answering 410 is unsubscribed; the other URL keeps receiving', { timeout: 60000 }, async () => {
  const secret = webhookSecret()
  const ok = await receiver(secret)
  const gone = await receiver(secret, { mode: 410 })
  const s = await server({ args: webhookArgs([ok, gone], secret, { quiet: '100ms', max: '500ms' }) })
  const room = randomRoom('wh-410')
  const first = await postEditOk(s, room, [{ op: 'map.set', type: 'm', key: 'k', value: 0 }])
  await gone.until(() => gone.requests.length >= 1, 'the 410 receiver to be tried')
  await ok.until(() => ok.events('room.changed').some(x => x.event.data.stateVector === first.stateVector), 'the first event at the other URL')
  const goneAt = gone.requests[0].at
  const svs = []
  for (let i = 1; i <= 5; i++) {
    svs.push((await postEditOk(s, room, [{ op: 'map.set', type: 'm', key: 'k', value: i }])).stateVector)
    await sleep(250)
  }
  await ok.until(() => ok.events('room.changed').some(x => x.event.data.stateVector === svs[4]), 'the last event at the good URL')
  const late = gone.requests.filter(x => x.at > goneAt + 300)
  figure('webhooks_410', 'requests_to_410_url', gone.requests.length)
  assert.deepStrictEqual(late.map(x => x.body), [], 'the 410 URL got requests after answering 410')
  assertAllVerified(ok)
  assertAllVerified(gone)
})
