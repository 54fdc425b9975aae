// POST /api/v1/rooms/{room}/update (issue #21): an update from the app backend reaches the
// room's y-websocket providers, is durable when the answer comes (it survives SIGTERM and a
// kill -9 right after the 200), works in v1 and v2, and a malformed one is refused with
// 400 malformed_update, changing nothing and reaching no one.
import { test, after } from 'node:test'
import {
  assert, Y, startApiServer, api, roomPath, show, getJson, getState, getStateVector, postUpdate, postUpdateOk,
  sameBytes, svMap, wsClient, synced, destroyAll, waitFor, figure, randomRoom, assertError, unb64
} from './lib.mjs'

const servers = []
const start = async (opts) => { const s = await startApiServer(opts); servers.push(s); return s }
after(async () => {
  await Promise.all(servers.map(s => s.stop()))
  for (const s of new Set(servers.map(s => s.dataDir))) { try { (await import('node:fs')).rmSync(s, { recursive: true, force: true }) } catch {} }
})

// An update made by a yjs doc of client `client` (text insert + a map entry + an array element).
const makeUpdate = (client, text, { v2 = false, base } = {}) => {
  const d = new Y.Doc()
  d.clientID = client
  if (base) Y.applyUpdate(d, base)
  const before = Y.encodeStateVector(d)
  d.transact(() => {
    d.getText('t').insert(d.getText('t').length, text)
    d.getMap('m').set(text, { n: text.length })
    d.getArray('a').push([text])
  })
  return (v2 ? Y.encodeStateAsUpdateV2 : Y.encodeStateAsUpdate)(d, before)
}

test('a POSTed update (v1 and v2) reaches connected providers; the answer carries the new state vector', { timeout: 60000 }, async () => {
  const server = await start()
  const room = randomRoom('upd-live')
  const a = wsClient(server, room)
  const b = wsClient(server, room)
  try {
    await synced(a.provider); await synced(b.provider)
    const lat = []
    for (const v2 of [false, true]) {
      const mark = v2 ? 'second ' : 'first '
      const u = makeUpdate(v2 ? 202 : 101, mark, { v2 })
      const t0 = performance.now()
      const r = await postUpdate(server, room, u, { v2 })
      assert.equal(r.status, 200, show(r))
      assert.equal(typeof r.json?.stateVector, 'string', show(r))
      // The answer's state vector is the room's after the update.
      const ref = new Y.Doc()
      Y.applyUpdate(ref, await getState(server, room))
      assert.deepStrictEqual(svMap(unb64(r.json.stateVector)), svMap(Y.encodeStateVector(ref)))
      assert.ok(svMap(unb64(r.json.stateVector))[v2 ? 202 : 101] > 0, `the answer's state vector has the new client: ${r.json.stateVector}`)
      for (const c of [a, b]) await waitFor(() => c.doc.getText('t').toString().includes(mark), `${v2 ? 'v2' : 'v1'} update to reach a provider`)
      lat.push(performance.now() - t0)
    }
    figure('api_update', 'post_to_provider_ms_v1', lat[0])
    figure('api_update', 'post_to_provider_ms_v2', lat[1])
    for (const c of [a, b]) {
      assert.equal(c.doc.getText('t').toString().length, 'first second '.length)
      assert.deepStrictEqual(c.doc.getMap('m').toJSON(), { 'first ': { n: 6 }, 'second ': { n: 7 } })
    }
    // The selection header alternative: ?v=2.
    const u3 = makeUpdate(303, 'third', { v2: true })
    const r3 = await api(server, 'POST', roomPath(room, '/update') + '?v=2', { headers: { 'Content-Type': 'application/octet-stream' }, body: u3 })
    assert.equal(r3.status, 200, `?v=2: ${show(r3)}`)
    await waitFor(() => a.doc.getText('t').toString().includes('third'), '?v=2 update to reach a provider')
  } finally {
    destroyAll(a, b)
  }
})

test('malformed updates: 400 malformed_update, the document and the providers unchanged', { timeout: 60000 }, async () => {
  const server = await start()
  const room = randomRoom('upd-bad')
  const a = wsClient(server, room)
  try {
    await synced(a.provider)
    await postUpdateOk(server, room, makeUpdate(1, 'base'))
    await waitFor(() => a.doc.getText('t').toString() === 'base', 'the base update')
    const sv0 = await getStateVector(server, room)
    const state0 = await getState(server, room)
    const json0 = await getJson(server, room)
    // A two-client update cut in the second client's structs: its first part is well-formed.
    const d = new Y.Doc()
    Y.applyUpdate(d, state0)
    d.clientID = 7; d.getText('t').insert(0, 'AAAA'); d.clientID = 8; d.getArray('a').push(['BBBBBBBBBBBBBBBB', { x: 1 }])
    const two = Y.encodeStateAsUpdate(d, sv0)
    const v2update = makeUpdate(9, 'v2 bytes', { v2: true })
    const cases = [
      ['random bytes', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03])],
      ['a truncated two-client update', two.subarray(0, two.length - 12)],
      ['an empty body', new Uint8Array(0)],
      ['a struct count far beyond the bytes', Uint8Array.from([1, 0xff, 0xff, 0x03, 5, 0])]
    ]
    for (const [what, bytes] of cases) {
      const r = await postUpdate(server, room, bytes)
      assertError(r, 400, 'malformed_update', what)
    }
    // v2 bytes read as v1 happen to decode as an empty update (yjs applies them as a no-op):
    // either answer is fine, as long as nothing changes.
    const rv1 = await postUpdate(server, room, v2update)
    assert.ok(rv1.status === 200 || (rv1.status === 400 && rv1.json?.error === 'malformed_update'), `a v2 update sent as v1: ${show(rv1)}`)
    const rv2 = await postUpdate(server, room, makeUpdate(10, 'v1 bytes'), { v2: true })
    assertError(rv2, 400, 'malformed_update', 'a v1 update sent as v2')
    assert.ok(sameBytes(await getStateVector(server, room), sv0), 'state vector changed by refused updates')
    assert.ok(sameBytes(await getState(server, room), state0), 'state changed by refused updates')
    assert.deepStrictEqual(await getJson(server, room), json0)
    // A good update after them reaches the provider, and nothing else did.
    await postUpdateOk(server, room, makeUpdate(11, '+good', { base: state0 }))
    await waitFor(() => a.doc.getText('t').toString().includes('+good'), 'the good update')
    assert.equal(a.doc.getText('t').toString(), 'base+good')
    assert.deepStrictEqual(Object.keys(svMap(Y.encodeStateVector(a.doc))).map(Number).sort((x, y) => x - y), [1, 11])
  } finally {
    destroyAll(a)
  }
})

// `count` updates, each POSTed; then the server is stopped with `signal` right after the last
// 200, restarted on the same data dir, and must hold every one.
const survives = async (signal, v2) => {
  const first = await start()
  const room = randomRoom(`upd-${signal}-${v2 ? 'v2' : 'v1'}`)
  const ref = new Y.Doc()
  const count = 20
  for (let i = 0; i < count; i++) {
    const u = makeUpdate(1000 + i, `u${i};`, { v2 })
    ;(v2 ? Y.applyUpdateV2 : Y.applyUpdate)(ref, u)
    await postUpdateOk(first, room, u, { v2 })
  }
  // The last one, then the signal at once.
  const last = makeUpdate(5000, 'LAST', { v2 })
  ;(v2 ? Y.applyUpdateV2 : Y.applyUpdate)(ref, last)
  const r = await postUpdate(first, room, last, { v2 })
  assert.equal(r.status, 200, show(r))
  const t0 = performance.now()
  first.proc.kill(signal)
  const exit = await first.exited
  figure('api_update', `${signal}_exit_ms`, performance.now() - t0)
  if (signal === 'SIGKILL') assert.equal(exit.signal, 'SIGKILL')
  const second = await start({ dataDir: first.dataDir })
  const got = await getJson(second, room)
  const want = JSON.parse(JSON.stringify({ t: ref.getText('t').toJSON(), m: ref.getMap('m').toJSON(), a: ref.getArray('a').toJSON() }))
  assert.deepStrictEqual(got, want, `after ${signal} and a restart`)
  assert.deepStrictEqual(svMap(await getStateVector(second, room)), svMap(Y.encodeStateVector(ref)))
  // A provider joining the restarted server gets it too.
  const c = wsClient(second, room)
  try {
    await synced(c.provider)
    assert.equal(c.doc.getText('t').toString(), ref.getText('t').toString())
  } finally {
    destroyAll(c)
  }
  await second.stop()
}

for (const signal of ['SIGTERM', 'SIGKILL']) {
  for (const v2 of [false, true]) {
    test(`POSTed updates (${v2 ? 'v2' : 'v1'}) survive ${signal === 'SIGKILL' ? 'kill -9 right after the 200' : 'SIGTERM'} and a restart`, { timeout: 120000 }, async () => {
      await survives(signal, v2)
    })
  }
}
