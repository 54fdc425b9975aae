// DELETE /api/v1/rooms/{room} (issue #21): connected clients are closed with 4410 "room deleted",
// the room is empty everywhere (GET, the local log, every version in the snapshot store, after a
// restart), a new join starts empty; with the store down the DELETE is 503 and nothing is deleted.
// The store's own DELETE (the contract's new method) is checked against `tandem store` too.
//
// y-websocket providers reconnect on their own and would upload their copy again: the clients
// here destroy their provider when they see 4410, as docs/API.md tells apps to.
import { test, after } from 'node:test'
import {
  assert, Y, startApiServer, startStore, api, roomPath, show, getJson, getStateVector, postUpdateOk,
  svMap, wsClient, synced, destroyAll, waitFor, figure, randomRoom, STORE_SECRET, storeGet, request, sleep, rawSocket
} from './lib.mjs'

const procs = []
after(async () => {
  await Promise.all(procs.map(p => p.stop()))
  for (const p of procs) p.cleanup()
})
const serve = async (store, opts = {}) => {
  const s = await startApiServer({
    ...opts,
    args: ['--snapshot-url', store.http, '--snapshot-secret', STORE_SECRET, '--save-interval', '200ms',
      '--disconnect-debounce', '100ms', '--snapshot-timeout', '2s', '--save-retry', '100ms', ...(opts.args ?? [])]
  })
  procs.push(s)
  return s
}
const store = async (opts) => { const s = await startStore(opts); procs.push(s); return s }

// A provider that records its close codes and destroys itself on 4410.
const client = (server, room) => {
  const c = wsClient(server, room)
  c.closes = []
  c.provider.on('connection-close', (ev) => {
    if (!ev) return
    c.closes.push({ code: ev.code, reason: String(ev.reason ?? '') })
    if (ev.code === 4410) queueMicrotask(() => c.provider.destroy())
  })
  return c
}

const versions = async (st, room) => {
  const r = await request(st.port, 'GET', `/collaboration/snapshot/versions?roomId=${encodeURIComponent(room)}`, { headers: { Authorization: `Bearer ${STORE_SECRET}` } })
  assert.equal(r.status, 200, show(r))
  return r.json
}

test('DELETE closes clients with 4410, erases the room everywhere, and a new join starts empty', { timeout: 120000 }, async () => {
  const st = await store()
  const server = await serve(st)
  const room = randomRoom('del')
  const a = client(server, room)
  const b = client(server, room)
  const raw = await rawSocket(`${server.ws}/${encodeURIComponent(room)}`)
  try {
    await synced(a.provider); await synced(b.provider)
    a.doc.getText('t').insert(0, 'to be erased')
    a.doc.getMap('m').set('k', 'v')
    await waitFor(() => b.doc.getText('t').toString() === 'to be erased', 'b to get a\'s edit')
    // Two saved versions in the store.
    await waitFor(async () => (await storeGet(st, room)).status === 200, 'a first snapshot in the store')
    b.doc.getMap('m').set('k2', 'v2')
    await waitFor(async () => (await versions(st, room)).length >= 2, 'a second version in the store', 15000)
    assert.ok(Object.keys(await getJson(server, room)).length > 0)

    const t0 = performance.now()
    const r = await api(server, 'DELETE', roomPath(room))
    figure('api_delete', 'delete_ms', performance.now() - t0)
    assert.equal(r.status, 200, show(r))
    assert.deepStrictEqual(r.json, { deleted: true, closedConnections: 3 })
    for (const [name, c] of [['a', a], ['b', b]]) {
      await waitFor(() => c.closes.length > 0, `${name} to be closed`)
      assert.deepStrictEqual(c.closes[0], { code: 4410, reason: 'room deleted' }, `${name}'s close`)
    }
    await waitFor(() => raw.closed !== null, 'the raw socket to be closed')
    assert.deepStrictEqual(raw.closed, { code: 4410, reason: 'room deleted' })

    // Empty everywhere.
    assert.deepStrictEqual(await getJson(server, room), {})
    assert.deepStrictEqual(svMap(await getStateVector(server, room)), {})
    assert.equal((await storeGet(st, room)).status, 404, 'the store still has a snapshot')
    assert.deepStrictEqual(await versions(st, room), [])
    const v1 = await request(st.port, 'GET', `/collaboration/snapshot?roomId=${encodeURIComponent(room)}&version=1`, { headers: { Authorization: `Bearer ${STORE_SECRET}` } })
    assert.equal(v1.status, 404, `version 1 after the delete: ${show(v1)}`)

    // A new join starts empty and makes a new room.
    const c = client(server, room)
    await synced(c.provider)
    assert.deepStrictEqual(c.doc.getText('t').toString(), '')
    assert.equal(c.doc.getMap('m').size, 0)
    c.doc.getMap('fresh').set('n', 1)
    await waitFor(async () => (await getJson(server, room)).fresh?.n === 1, 'the new room to take an edit')
    destroyAll(c)
    // After a restart on the same data dir and store: the new room only.
    await server.stop()
    const again = await serve(st, { dataDir: server.dataDir })
    assert.deepStrictEqual(await getJson(again, room), { fresh: { n: 1 } })
  } finally {
    destroyAll(a, b)
    raw.socket.terminate()
  }
})

test('a deleted room stays empty after a restart, with no client and nothing saved since', { timeout: 120000 }, async () => {
  const st = await store()
  const server = await serve(st)
  const room = randomRoom('del-restart')
  const d = new Y.Doc()
  d.getArray('tasks').push(['one', 'two'])
  await postUpdateOk(server, room, Y.encodeStateAsUpdate(d))
  const a = client(server, room)
  await synced(a.provider)
  await waitFor(async () => (await storeGet(st, room)).status === 200, 'a snapshot in the store')
  const r = await api(server, 'DELETE', roomPath(room))
  assert.equal(r.status, 200, show(r))
  assert.equal(r.json.closedConnections, 1, show(r))
  await waitFor(() => a.closes.length > 0 && a.provider.shouldConnect === false, 'the provider to be closed and destroyed')
  assert.equal(a.closes[0].code, 4410)
  await sleep(500) // a few save intervals: nothing may bring the document back
  assert.equal((await storeGet(st, room)).status, 404)
  await server.stop({ signal: 'SIGKILL' })
  const again = await serve(st, { dataDir: server.dataDir })
  assert.deepStrictEqual(await getJson(again, room), {}, 'after kill -9 and a restart')
  assert.equal((await storeGet(st, room)).status, 404)
  // A room that was never there: deleted, nobody closed.
  const none = await api(again, 'DELETE', roomPath(randomRoom('del-never')))
  assert.equal(none.status, 200, show(none))
  assert.deepStrictEqual(none.json, { deleted: true, closedConnections: 0 })
  destroyAll(a)
})

test('store down: DELETE is 503 and nothing is deleted; once it is back the DELETE works', { timeout: 120000 }, async () => {
  const st = await store()
  const server = await serve(st)
  const room = randomRoom('del-down')
  const a = client(server, room)
  try {
    await synced(a.provider)
    a.doc.getText('t').insert(0, 'keep me')
    await waitFor(async () => (await storeGet(st, room)).status === 200, 'a snapshot in the store')
    await st.stop()
    const r = await api(server, 'DELETE', roomPath(room), { timeoutMs: 30000 })
    assert.equal(r.status, 503, `DELETE with the store down: ${show(r)}`)
    assert.equal(typeof r.json?.error, 'string', show(r))
    assert.deepStrictEqual(a.closes, [], 'clients were closed although the delete failed')
    assert.deepStrictEqual(await getJson(server, room), { t: 'keep me' })
    // The store back on its port and data: the snapshot is still there; the delete goes through.
    const st2 = await store({ port: st.port, dataDir: st.dataDir })
    assert.equal((await storeGet(st2, room)).status, 200, 'the failed delete removed the stored snapshot')
    const ok = await api(server, 'DELETE', roomPath(room))
    assert.equal(ok.status, 200, show(ok))
    assert.equal((await storeGet(st2, room)).status, 404)
    assert.deepStrictEqual(await getJson(server, room), {})
    await waitFor(() => a.closes.some(c => c.code === 4410), 'the 4410 close')
  } finally {
    destroyAll(a)
  }
})

test('the store contract: DELETE /collaboration/snapshot is 204 with the secret, 401 without', { timeout: 60000 }, async () => {
  const st = await store()
  const room = randomRoom('store-del')
  const d = new Y.Doc()
  d.getText('t').insert(0, 'x')
  const path = `/collaboration/snapshot?roomId=${encodeURIComponent(room)}`
  const post = await request(st.port, 'POST', path, { headers: { Authorization: `Bearer ${STORE_SECRET}`, 'Content-Type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(d) })
  assert.equal(post.status, 200, show(post))
  const noAuth = await request(st.port, 'DELETE', path)
  assert.equal(noAuth.status, 401, show(noAuth))
  const wrong = await request(st.port, 'DELETE', path, { headers: { Authorization: 'Bearer nope' } })
  assert.equal(wrong.status, 401, show(wrong))
  assert.equal((await storeGet(st, room)).status, 200, 'an unauthorized DELETE deleted')
  const del = await request(st.port, 'DELETE', path, { headers: { Authorization: `Bearer ${STORE_SECRET}` } })
  assert.equal(del.status, 204, show(del))
  assert.equal((await storeGet(st, room)).status, 404)
  assert.deepStrictEqual(await versions(st, room), [])
})
