// Reading documents over the API (issue #21), with yjs as the oracle: random multi-client sessions
// from the differential harness (tests/interop/crdt_sessions.mjs: text, arrays, maps, XML, nested
// types, formatting, embeds, binary) are pushed with POST …/update; then GET's JSON must equal
// yjs's toJSON of the same document, the octet-stream state (v1 and v2) must load in yjs to the
// same content, delete set and state vector, and each earlier peer's state plus GET ?since=<its
// state vector> must converge (the checks of crdt_check.mjs). Also: the state-vector endpoint,
// a document made by a y-websocket client, an unknown room, and the room list.
//
// Env: TANDEM_API_SESSIONS (default 60), TANDEM_API_SEED.
import { test, before, after } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import { Prng } from '../interop/helpers.mjs'
import { generateSession } from '../interop/crdt_sessions.mjs'
import { checkResult, rootsJSON, firstDiff } from '../interop/crdt_check.mjs'
import {
  assert, Y, startApiServer, api, roomPath, show, getJson, getState, getStateVector, postUpdateOk,
  unb64, hex, sameBytes, svMap, wsClient, synced, destroyAll, waitFor, figure, randomRoom, assertError
} from './lib.mjs'

const SESSIONS = Number(process.env.TANDEM_API_SESSIONS || 60)
const SEED = Number(process.env.TANDEM_API_SEED || 20261206)

let server
before(async () => { server = await startApiServer() })
after(async () => { await server?.stop(); server?.cleanup() })

// What the API reports about `room`, in the shape checkResult takes (crdt_check.mjs).
const apiView = async (room, peers, v2) => {
  const r = await api(server, 'GET', roomPath(room))
  assert.equal(r.status, 200, `GET ${room}: ${show(r)}`)
  return {
    error: '',
    json: r.text,
    sv: await getStateVector(server, room),
    state: await getState(server, room, { v2 }),
    diffs: await Promise.all(peers.map(p => getState(server, room, { v2, since: p.sv })))
  }
}

test(`GET matches yjs for ${SESSIONS} random sessions pushed with POST update (v1 and v2)`, { timeout: 600000 }, async () => {
  const failures = []
  let posts = 0
  let identical = 0
  for (let i = 0; i < SESSIONS; i++) {
    const seed = SEED + i
    const cfg = { gc: true, v2: i % 3 === 2 }
    const session = generateSession(new Prng(seed), cfg)
    const room = `docs-s${seed}-${cfg.v2 ? 'v2' : 'v1'}`
    for (const u of session.updates) {
      await postUpdateOk(server, room, u, { v2: cfg.v2 })
      posts++
    }
    const result = await apiView(room, session.peers, cfg.v2)
    const { problem } = checkResult(result, cfg, session.expected, session.peers)
    if (problem) failures.push(`${room}: ${problem}`)
    if (sameBytes(result.state, session.expected.state)) identical++
    // The same document read as v1 when it was pushed as v2 (and the other way round).
    const other = await getState(server, room, { v2: !cfg.v2 })
    const doc = new Y.Doc()
    ;(cfg.v2 ? Y.applyUpdate : Y.applyUpdateV2)(doc, other)
    if (!isDeepStrictEqual(rootsJSON(doc), session.expected.json)) failures.push(`${room}: state as ${cfg.v2 ? 'v1' : 'v2'}: ${firstDiff(session.expected.json, rootsJSON(doc))}`)
    doc.destroy()
  }
  figure('api_documents', 'sessions', SESSIONS)
  figure('api_documents', 'updates_posted', posts)
  figure('api_documents', 'state_byte_identical_to_yjs', identical)
  assert.deepEqual(failures, [], `${failures.length} of ${SESSIONS} sessions differ:\n${failures.slice(0, 10).join('\n')}`)
})

test('a document edited through a y-websocket provider reads back as its toJSON', { timeout: 60000 }, async () => {
  const room = randomRoom('docs-provider')
  const a = wsClient(server, room)
  try {
    await synced(a.provider)
    const doc = a.doc
    doc.transact(() => {
      doc.getText('document').insert(0, 'Hello wörld 😀', { bold: true })
      doc.getText('document').insert(5, ',')
      const tasks = doc.getArray('tasks')
      const t = new Y.Map()
      t.set('id', 't1'); t.set('title', 'Write docs'); t.set('done', false)
      tasks.insert(0, [t, 42, 'plain', { nested: [1, 2.5, null] }])
      const meta = doc.getMap('meta')
      meta.set('title', 'Plan')
      meta.set('count', 2 ** 40)
      meta.set('body', new Y.Text('nested text'))
      const frag = doc.getXmlFragment('xml')
      const p = new Y.XmlElement('p')
      p.setAttribute('class', 'x')
      p.insert(0, [new Y.XmlText('para')])
      frag.insert(0, [p])
    })
    const sv = Y.encodeStateVector(doc)
    await waitFor(async () => sameBytes(await getStateVector(server, room), sv), 'the server to hold the client edits')
    const got = await getJson(server, room)
    const want = JSON.parse(JSON.stringify({
      document: doc.getText('document').toJSON(),
      tasks: doc.getArray('tasks').toJSON(),
      meta: doc.getMap('meta').toJSON(),
      xml: doc.getXmlFragment('xml').toJSON()
    }))
    assert.deepStrictEqual(got, want)
    // The raw state vector, and v1/v2 state that load to the same document.
    const raw = await api(server, 'GET', roomPath(room, '/state-vector'), { headers: { Accept: 'application/octet-stream' } })
    assert.equal(raw.status, 200, show(raw))
    assert.ok(sameBytes(raw.bytes, sv), `raw state vector ${hex(raw.bytes)}, client ${hex(sv)}`)
    for (const v2 of [false, true]) {
      const d = new Y.Doc()
      ;(v2 ? Y.applyUpdateV2 : Y.applyUpdate)(d, await getState(server, room, { v2 }))
      assert.deepStrictEqual(JSON.parse(JSON.stringify({ document: d.getText('document').toJSON(), tasks: d.getArray('tasks').toJSON(), meta: d.getMap('meta').toJSON(), xml: d.getXmlFragment('xml').toJSON() })), want)
      assert.ok(sameBytes(Y.encodeStateVector(d), sv))
      // ?since= the client's own state vector: nothing is missing.
      const missing = await getState(server, room, { v2, since: sv })
      const before = Y.encodeStateAsUpdate(doc)
      ;(v2 ? Y.applyUpdateV2 : Y.applyUpdate)(doc, missing)
      assert.ok(sameBytes(Y.encodeStateAsUpdate(doc), before), 'applying ?since=<current sv> changed the client')
      d.destroy()
    }
    // ?since= an empty state vector: the whole document.
    const whole = docFromBytes(await getState(server, room, { since: Uint8Array.of(0) }))
    assert.ok(sameBytes(Y.encodeStateVector(whole), sv), '?since=<empty sv> is the whole document')
    assert.equal(whole.getText('document').toString(), doc.getText('document').toString())
    whole.destroy()
  } finally {
    destroyAll(a)
  }
})

const docFromBytes = (u) => { const d = new Y.Doc(); Y.applyUpdate(d, u); return d }

test('an unknown room reads as an empty document', async () => {
  const room = randomRoom('docs-never-seen')
  assert.deepStrictEqual(await getJson(server, room), {})
  const sv = await getStateVector(server, room)
  assert.deepStrictEqual(svMap(sv), {})
  const state = await getState(server, room)
  const d = docFromBytes(state)
  assert.deepStrictEqual(svMap(Y.encodeStateVector(d)), {})
})

test('?since with bad base64 or a bad state vector is 400 bad_request', async () => {
  const room = randomRoom('docs-since')
  await postUpdateOk(server, room, (() => { const d = new Y.Doc(); d.getText('t').insert(0, 'x'); return Y.encodeStateAsUpdate(d) })())
  const oct = { Accept: 'application/octet-stream' }
  for (const [what, q] of [
    ['not base64', 'since=%21%21%21%21'],
    ['a truncated varint state vector', `since=${encodeURIComponent(Buffer.from([0x85]).toString('base64'))}`],
    ['a state vector announcing 5 entries and holding one', `since=${encodeURIComponent(Buffer.from([5, 1, 1]).toString('base64'))}`]
  ]) {
    const r = await api(server, 'GET', roomPath(room) + '?' + q, { headers: oct })
    assertError(r, 400, 'bad_request', `GET ?${q} (${what})`)
  }
  // A well-formed one still works.
  const ok = await getState(server, room, { since: Uint8Array.of(0) })
  assert.deepStrictEqual(docFromBytes(ok).getText('t').toString(), 'x')
})

test('GET /api/v1/rooms lists loaded rooms by id, paginated, with connections and sizes', { timeout: 60000 }, async () => {
  const prefix = randomRoom('list')
  const rooms = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`, `${prefix}-d`]
  for (const room of rooms) {
    const d = new Y.Doc()
    d.getText('t').insert(0, room)
    await postUpdateOk(server, room, Y.encodeStateAsUpdate(d))
  }
  const c = wsClient(server, rooms[0])
  const c2 = wsClient(server, rooms[0])
  try {
    await synced(c.provider); await synced(c2.provider)
    // Walk the whole list two at a time.
    const seen = []
    let after = null
    for (let page = 0; page < 1000; page++) {
      const r = await api(server, 'GET', `/api/v1/rooms?limit=2${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
      assert.equal(r.status, 200, show(r))
      assert.ok(Array.isArray(r.json.rooms), show(r))
      assert.ok(r.json.rooms.length <= 2, `limit=2 gave ${r.json.rooms.length}`)
      assert.ok('next' in r.json, `no "next": ${show(r)}`)
      seen.push(...r.json.rooms)
      if (r.json.next === null) break
      assert.equal(typeof r.json.next, 'string')
      after = r.json.next
    }
    const ids = seen.map(x => x.id)
    assert.deepStrictEqual(ids, [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), 'rooms sorted by id')
    assert.equal(new Set(ids).size, ids.length, 'no room twice')
    for (const room of rooms) assert.ok(ids.includes(room), `${room} missing from ${JSON.stringify(ids)}`)
    for (const x of seen) {
      assert.equal(typeof x.connections, 'number', JSON.stringify(x))
      assert.equal(typeof x.documentBytes, 'number', JSON.stringify(x))
      assert.ok('unsavedChanges' in x, JSON.stringify(x))
    }
    const get = (id) => seen.find(x => x.id === id)
    assert.equal(get(rooms[0]).connections, 2, JSON.stringify(get(rooms[0])))
    assert.equal(get(rooms[1]).connections, 0, JSON.stringify(get(rooms[1])))
    assert.ok(get(rooms[1]).documentBytes > 0, JSON.stringify(get(rooms[1])))
    // One page of everything, default limit.
    const all = await api(server, 'GET', '/api/v1/rooms')
    assert.equal(all.status, 200, show(all))
    for (const room of rooms) assert.ok(all.json.rooms.some(x => x.id === room), `${room} in the default page`)
    // after= the second of ours starts after it.
    const sorted = [...rooms].sort()
    const from = await api(server, 'GET', `/api/v1/rooms?limit=1000&after=${encodeURIComponent(sorted[1])}`)
    assert.equal(from.status, 200, show(from))
    const fromIds = from.json.rooms.map(x => x.id)
    assert.ok(!fromIds.includes(sorted[0]) && !fromIds.includes(sorted[1]) && fromIds.includes(sorted[2]) && fromIds.includes(sorted[3]), JSON.stringify(fromIds))
    for (const bad of ['0', '1001', '-1', 'x', '']) {
      assertError(await api(server, 'GET', `/api/v1/rooms?limit=${bad}`), 400, 'bad_request', `limit=${bad}`)
    }
    for (const ok of ['1', '1000']) assert.equal((await api(server, 'GET', `/api/v1/rooms?limit=${ok}`)).status, 200, `limit=${ok}`)
  } finally {
    destroyAll(c, c2)
  }
})

