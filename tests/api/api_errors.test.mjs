// Bad requests to the document API (issue #21) get the documented status and JSON error code:
// missing or wrong secret, API off, bad room ids, unknown routes and methods, wrong content
// types, bad JSON, oversized bodies, limits, and a room whose store is down (503, never an empty
// document). The server stays up through all of it.
import { test, before, after } from 'node:test'
import { deepNestingUpdate } from '../adversarial/lib.mjs'
import {
  assert, Y, startApiServer, startStore, api, request, roomPath, show, getJson, getStateVector, postUpdate, postUpdateOk,
  postEdit, svMap, assertError, randomRoom, freePort, waitFor, STORE_SECRET, API_SECRET
} from './lib.mjs'

const MAX_MESSAGE = 64 * 1024
let server
const others = []
before(async () => {
  server = await startApiServer({ args: ['--max-message-size', '64KiB', '--max-nesting-depth', '8'] })
})
after(async () => {
  await Promise.all([server, ...others].filter(Boolean).map(s => s.stop()))
  for (const s of [server, ...others]) s?.cleanup()
})

const update = (text) => { const d = new Y.Doc(); d.getText('t').insert(0, text); return Y.encodeStateAsUpdate(d) }
const OCT = { 'Content-Type': 'application/octet-stream' }
const JSONH = { 'Content-Type': 'application/json' }

// One request of each endpoint.
const endpoints = (room = 'auth-room') => [
  ['GET', '/api/v1/rooms', {}],
  ['GET', roomPath(room), {}],
  ['GET', roomPath(room, '/state-vector'), {}],
  ['POST', roomPath(room, '/update'), { headers: OCT, body: update('x') }],
  ['POST', roomPath(room, '/edit'), { headers: JSONH, body: '[{"op":"map.set","type":"m","key":"k","value":1}]' }],
  ['DELETE', roomPath(room), {}]
]

test('no Authorization: 401 unauthorized with WWW-Authenticate: Bearer; a wrong secret: 403 forbidden', async () => {
  for (const [method, path, o] of endpoints()) {
    const none = await request(server.port, method, path, o)
    assertError(none, 401, 'unauthorized', `${method} ${path} without a secret`)
    assert.match(String(none.headers['www-authenticate']), /^Bearer/i, `${method} ${path}: WWW-Authenticate ${none.headers['www-authenticate']}`)
    for (const bad of ['wrong', API_SECRET + 'x', API_SECRET.slice(0, -1), API_SECRET.toUpperCase()]) {
      const r = await request(server.port, method, path, { ...o, headers: { ...o.headers, Authorization: `Bearer ${bad}` } })
      assertError(r, 403, 'forbidden', `${method} ${path} with secret ${JSON.stringify(bad)}`)
    }
  }
  // None of the refused requests changed the room.
  assert.deepStrictEqual(await getJson(server, 'auth-room'), {})
  // The right secret works.
  const ok = await api(server, 'GET', '/api/v1/rooms')
  assert.equal(ok.status, 200, show(ok))
})

test('the API is off without --api-secret: 404 api_off on every /api/v1/ path', async () => {
  const off = await startApiServer({ apiSecret: null })
  others.push(off)
  for (const [method, path, o] of [...endpoints(), ['GET', '/api/v1/nope', {}], ['GET', '/api/v1/', {}]]) {
    for (const auth of [undefined, `Bearer ${API_SECRET}`]) {
      const r = await request(off.port, method, path, { ...o, headers: { ...o.headers, ...(auth ? { Authorization: auth } : {}) } })
      assertError(r, 404, 'api_off', `${method} ${path} (API off, ${auth ? 'with' : 'without'} a secret)`)
    }
  }
})

test('bad room ids: 400 bad_room_id; odd but valid ones work', async () => {
  const long = 'r'.repeat(1025)
  for (const [what, seg] of [
    ['an empty id', ''],
    ['a bad escape', '%ZZ'],
    ['a lone %', 'a%'],
    ['a truncated escape', 'a%4'],
    ['not UTF-8', '%C3%28'],
    ['a control character', 'a%00b'],
    ['a newline', 'a%0Ab'],
    ['1025 bytes', long],
    ['1025 bytes, encoded', encodeURIComponent('é'.repeat(512) + 'x')]
  ]) {
    for (const [method, suffix, o] of [['GET', '', {}], ['GET', '/state-vector', {}], ['POST', '/update', { headers: OCT, body: update('x') }], ['POST', '/edit', { headers: JSONH, body: '[]' }], ['DELETE', '', {}]]) {
      if (seg === '' && suffix === '') continue // /api/v1/rooms/ is the list's path, not an empty id
      const r = await api(server, method, `/api/v1/rooms/${seg}${suffix}`, o)
      assertError(r, 400, 'bad_room_id', `${method} /api/v1/rooms/${seg.slice(0, 20)}${suffix} (${what})`)
    }
  }
  // 1024 bytes, spaces, slashes and emoji are room ids.
  for (const room of ['r'.repeat(1024), 'a b', 'a/b', 'ünï 😀', 'x?y#z', '..']) {
    const u = update(room)
    const r = await postUpdate(server, room, u)
    assert.equal(r.status, 200, `POST update to ${JSON.stringify(room.slice(0, 30))}: ${show(r)}`)
    assert.deepStrictEqual(await getJson(server, room), { t: room }, `room ${JSON.stringify(room.slice(0, 30))}`)
  }
  const list = await api(server, 'GET', '/api/v1/rooms?limit=1000')
  for (const room of ['a/b', 'ünï 😀', 'x?y#z']) assert.ok(list.json.rooms.some(x => x.id === room), `${JSON.stringify(room)} listed by its decoded id`)
})

test('unknown routes: 404 not_found; wrong methods: 405 with Allow', async () => {
  for (const path of ['/api/v1/nope', '/api/v1/rooms/x/nope', '/api/v1/rooms/x/update/more', '/api/v1/roomsx', '/api/v1/rooms/x/state-vector/y']) {
    assertError(await api(server, 'GET', path), 404, 'not_found', `GET ${path}`)
  }
  const allow = (r) => String(r.headers.allow ?? '').split(',').map(s => s.trim().toUpperCase()).filter(Boolean).sort()
  for (const [method, path, expect] of [
    ['POST', '/api/v1/rooms', ['GET']],
    ['DELETE', '/api/v1/rooms', ['GET']],
    ['PUT', roomPath('x'), ['DELETE', 'GET']],
    ['POST', roomPath('x'), ['DELETE', 'GET']],
    ['PATCH', roomPath('x'), ['DELETE', 'GET']],
    ['GET', roomPath('x', '/update'), ['POST']],
    ['PUT', roomPath('x', '/update'), ['POST']],
    ['GET', roomPath('x', '/edit'), ['POST']],
    ['DELETE', roomPath('x', '/edit'), ['POST']],
    ['POST', roomPath('x', '/state-vector'), ['GET']],
    ['DELETE', roomPath('x', '/state-vector'), ['GET']]
  ]) {
    const r = await api(server, method, path, { headers: OCT, body: method === 'GET' || method === 'DELETE' ? undefined : '' })
    assertError(r, 405, 'method_not_allowed', `${method} ${path}`)
    // HEAD may be listed beside GET.
    assert.deepStrictEqual(allow(r).filter(m => m !== 'HEAD'), expect, `${method} ${path}: Allow ${r.headers.allow}`)
  }
})

test('wrong content types: 415 unsupported_media_type', async () => {
  const room = randomRoom('ctype')
  for (const [what, ct] of [['JSON', 'application/json'], ['text', 'text/plain'], ['none', undefined], ['form', 'application/x-www-form-urlencoded']]) {
    const r = await api(server, 'POST', roomPath(room, '/update'), { headers: ct ? { 'Content-Type': ct } : {}, body: update('x') })
    assertError(r, 415, 'unsupported_media_type', `POST update with ${what}`)
  }
  for (const [what, ct] of [['octet-stream', 'application/octet-stream'], ['text', 'text/plain'], ['none', undefined]]) {
    const r = await api(server, 'POST', roomPath(room, '/edit'), { headers: ct ? { 'Content-Type': ct } : {}, body: '[{"op":"map.set","type":"m","key":"k","value":1}]' })
    assertError(r, 415, 'unsupported_media_type', `POST edit with ${what}`)
  }
  assert.deepStrictEqual(await getJson(server, room), {})
  // Parameters and case are allowed.
  const p1 = await api(server, 'POST', roomPath(room, '/edit'), { headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: '[{"op":"map.set","type":"m","key":"k","value":1}]' })
  assert.equal(p1.status, 200, `edit with application/json; charset=utf-8: ${show(p1)}`)
  const p2 = await api(server, 'POST', roomPath(room, '/update'), { headers: { 'Content-Type': 'Application/Octet-Stream' }, body: update('y') })
  assert.equal(p2.status, 200, `update with Application/Octet-Stream: ${show(p2)}`)
})

test('bad JSON: 400 bad_json; hostile JSON is refused and the server stays up', async () => {
  const room = randomRoom('badjson')
  const problems = []
  for (const [what, body] of [
    ['truncated', '[{"op":"map.set","type":"m"'],
    ['not JSON', 'map.set m k 1'],
    ['empty', ''],
    ['a trailing comma', '[{"op":"map.set","type":"m","key":"k","value":1},]'],
    ['single quotes', "[{'op':'map.set'}]"],
    ['trailing garbage', '[] []'],
    ['a bad escape', '[{"op":"map.set","type":"m","key":"\\x41","value":1}]'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('[{"op":"map.set","type":"m","key":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","value":1}]')])],
    ['NaN', '[{"op":"map.set","type":"m","key":"k","value":NaN}]']
  ]) {
    const r = await postEdit(server, room, null, { raw: body })
    try { assertError(r, 400, 'bad_json', `edit body ${what}`) } catch (e) { problems.push(e.message.split('\n')[0]) }
  }
  // 100000 nested arrays: refused (bad JSON or a limit), no crash.
  const deep = '['.repeat(100000) + ']'.repeat(100000)
  const r = await postEdit(server, room, null, { raw: deep })
  assert.ok([400, 413].includes(r.status), `deeply nested JSON: ${show(r)}`)
  assert.equal(typeof r.json?.error, 'string', show(r))
  const deepValue = `[{"op":"map.set","type":"m","key":"k","value":${'['.repeat(20000)}${']'.repeat(20000)}}]`
  const r2 = await postEdit(server, room, null, { raw: deepValue })
  assert.ok([400, 413].includes(r2.status), `a deeply nested value: ${show(r2)}`)
  assert.equal(server.describeDeath(), 'alive')
  assert.deepStrictEqual(await getJson(server, room), {})
  assert.deepStrictEqual(problems, [])
})

test('bodies over --max-message-size: 413 too_large; past a limit: 413 limit; nothing changes', async () => {
  const room = randomRoom('big')
  await postUpdateOk(server, room, update('base'))
  const sv0 = svMap(await getStateVector(server, room))
  const problems = []
  const soft = (f) => { try { f() } catch (e) { problems.push(e.message.split('\n')[0]) } }
  const big = (() => { const d = new Y.Doc(); d.getText('t').insert(0, 'x'.repeat(MAX_MESSAGE + 1000)); return Y.encodeStateAsUpdate(d) })()
  const rb = await postUpdate(server, room, big)
  soft(() => assertError(rb, 413, 'too_large', `a ${big.length}-byte update (--max-message-size 64KiB)`))
  const huge = (() => { const d = new Y.Doc(); d.getText('t').insert(0, 'x'.repeat(4 * MAX_MESSAGE)); return Y.encodeStateAsUpdate(d) })()
  const rh = await postUpdate(server, room, huge)
  soft(() => assertError(rh, 413, 'too_large', `a ${huge.length}-byte update (--max-message-size 64KiB)`))
  const bigEdit = JSON.stringify([{ op: 'text.insert', type: 't', index: 0, text: 'y'.repeat(MAX_MESSAGE + 1000) }])
  const re = await postEdit(server, room, null, { raw: bigEdit })
  soft(() => assertError(re, 413, 'too_large', `a ${bigEdit.length}-byte edit (--max-message-size 64KiB)`))
  const svAfterBig = svMap(await getStateVector(server, room))
  if (rb.status !== 200 && rh.status !== 200 && re.status !== 200) soft(() => assert.deepStrictEqual(svAfterBig, sv0, 'refused bodies changed the room'))
  // Just under the limit is fine.
  const under = (() => { const d = new Y.Doc(); d.clientID = 4242; d.getMap('big').set('k', 'z'.repeat(MAX_MESSAGE - 200)); return Y.encodeStateAsUpdate(d) })()
  assert.ok(under.length < MAX_MESSAGE)
  const ru = await postUpdate(server, room, under)
  assert.equal(ru.status, 200, `a ${under.length}-byte update (limit ${MAX_MESSAGE}): ${show(ru)}`)
  const sv1 = svMap(await getStateVector(server, room))
  // Nesting deeper than --max-nesting-depth 8.
  const deep = deepNestingUpdate(20, { client: 777, key: 'deep' })
  const rd = await postUpdate(server, room, deep)
  soft(() => assertError(rd, 413, 'limit', 'an update nesting 20 arrays (limit 8)'))
  const nested = (n) => n === 0 ? 1 : { $type: 'array', value: [nested(n - 1)] }
  const r = await postEdit(server, room, [{ op: 'map.set', type: 'm', key: 'deep', value: nested(20) }])
  const await0sv = await getStateVector(server, room)
  soft(() => assert.ok((r.status === 413 && r.json?.error === 'limit') || (r.status === 400 && r.json?.error === 'invalid_edit'), `an edit nesting 20 arrays (limit 8): ${show(r).slice(0, 120)}`))
  soft(() => assert.deepStrictEqual(svMap(await0sv), sv1, 'a refused request changed the state vector'))
  assert.notDeepStrictEqual(sv1, sv0)
  assert.deepStrictEqual(problems, [], 'size limits')
})

test('a room that cannot load (store down, no local state) is 503 room_unavailable, never empty', { timeout: 120000 }, async () => {
  const port = await freePort()
  const s = await startApiServer({ args: ['--snapshot-url', `http://127.0.0.1:${port}`, '--snapshot-secret', STORE_SECRET, '--snapshot-timeout', '1s', '--room-idle-unload', '100ms'] })
  others.push(s)
  const room = randomRoom('unavailable')
  for (const [method, suffix, o] of [['GET', '', {}], ['GET', '/state-vector', {}], ['GET', '', { headers: { Accept: 'application/octet-stream' } }],
    ['POST', '/update', { headers: OCT, body: update('x') }], ['POST', '/edit', { headers: JSONH, body: '[{"op":"map.set","type":"m","key":"k","value":1}]' }]]) {
    const r = await api(s, method, roomPath(room, suffix), { ...o, timeoutMs: 30000 })
    assertError(r, 503, 'room_unavailable', `${method} ${suffix || '(document)'} with the store down`)
  }
  // The store comes up holding the room: the API shows it (nothing empty was kept).
  const st = await startStore({ port })
  others.push(st)
  const d = new Y.Doc()
  d.getText('t').insert(0, 'from the store')
  const post = await request(port, 'POST', `/collaboration/snapshot?roomId=${encodeURIComponent(room)}`, { headers: { Authorization: `Bearer ${STORE_SECRET}`, ...OCT }, body: Y.encodeStateAsUpdate(d) })
  assert.equal(post.status, 200, show(post))
  // (A failed load may be retried after a pause: poll while it is 503.)
  let r
  await waitFor(async () => { r = await api(s, 'GET', roomPath(room)); return r.status !== 503 }, 'the room to load once the store is up', 20000)
  assert.equal(r.status, 200, show(r))
  assert.deepStrictEqual(r.json, { t: 'from the store' })
})
