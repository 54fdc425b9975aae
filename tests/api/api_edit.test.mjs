// POST /api/v1/rooms/{room}/edit (issue #21) against yjs: the same edits made in yjs by the
// client id the server reports, in one transaction, on a yjs doc loaded from the room's state, must
// give a byte-identical v1 update, the same state vector and the same document. Every edit kind
// (scripted), a few hundred seeded random lists, lists on a document from the differential
// harness, one transaction per list as providers see it, and invalid lists that change nothing
// and name the failing edit.
//
// Env: TANDEM_API_EDIT_LISTS (default 300), TANDEM_API_SEED, TANDEM_API_FAILURE_DIR (a JSON file per
// disagreement: the state before, client id, edits, yjs's update and the answer).
import { test, before, after } from 'node:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { Prng } from '../interop/helpers.mjs'
import { generateSession } from '../interop/crdt_sessions.mjs'
import { rootsJSON, firstDiff, dropEmptyRoots } from '../interop/crdt_check.mjs'
import {
  assert, Y, startApiServer, api, roomPath, show, getJson, getState, getStateVector, postEdit, postUpdateOk,
  b64, unb64, hex, sameBytes, svMap, wsClient, synced, destroyAll, waitFor, figure, randomRoom, assertError
} from './lib.mjs'
import { applyEdits, oracleDoc, randomEditList } from './edits.mjs'

const LISTS = Number(process.env.TANDEM_API_EDIT_LISTS || 300)
const FAILURE_DIR = process.env.TANDEM_API_FAILURE_DIR || path.join(os.tmpdir(), 'tandem-api-edit-failures')

// A disagreement as a file: the state before (v1, base64), the client id, the edits, what yjs
// emitted and what the server answered. Replay: load `before` into a yjs doc, set clientID,
// doc.transact(() => edits.forEach(e => applyEdit(doc, e))) (edits.mjs).
let caseCount = 0
const saveCase = (twin, before, edits, want, r) => {
  fs.mkdirSync(FAILURE_DIR, { recursive: true })
  const file = path.join(FAILURE_DIR, `${twin.room}-${++caseCount}.json`)
  fs.writeFileSync(file, JSON.stringify({ room: twin.room, before: b64(before), clientId: twin.clientId, edits, yjsUpdate: want ? b64(want) : null, server: { status: r.status, body: r.json } }, null, 1))
  return file
}

// Fails with a summary of the recorded disagreements (counts by kind, a few examples).
const reportProblems = (what, problems) => {
  const kinds = {}
  for (const p of problems) kinds[p.kind] = (kinds[p.kind] ?? 0) + 1
  for (const [k, n] of Object.entries(kinds)) figure('api_edit', `${what}_disagreements{${k.replace(/[^a-z0-9]+/gi, '_')}}`, n)
  const show = problems.slice(0, 6).map(p => `${p.message.slice(0, 900)}\n    (case: ${p.file})`)
  assert.equal(problems.length, 0, `${what}: ${problems.length} disagreements with yjs: ${JSON.stringify(kinds)}\n  ${show.join('\n  ')}`)
}
const SEED = Number(process.env.TANDEM_API_SEED || 20261206)

let server
before(async () => { server = await startApiServer({ args: ['--room-idle-unload', '10m'] }) })
after(async () => { await server?.stop(); server?.cleanup() })

// A room and its yjs twin. For each list the twin starts again from the room's state as GET
// gives it (octet-stream), in a fresh yjs doc, as the spec's oracle says: yjs's search markers
// (which decide some formatting results) then come from that list alone, not from history.
class Twin {
  constructor (room, roots) {
    this.room = room
    this.roots = roots // [[name, 'text' | 'map' | 'array']]
    this.doc = oracleDoc()
    this.clientId = null
    this.lists = 0
  }

  // Loads the room's current state (from GET, as a remote update).
  async load () {
    Y.applyUpdate(this.doc, await getState(server, this.room))
  }

  // Sends `edits`, applies them to the twin and compares; returns the answer. With `problems`
  // (an array), a disagreement is recorded there (and a replayable case written to FAILURE_DIR)
  // instead of failing at once: a list the server refuses is skipped, and after a differing
  // update the twin reloads the server's state so the run can go on.
  async edit (edits, { what = '', problems } = {}) {
    const before = await getState(server, this.room)
    this.doc.destroy()
    this.doc = oracleDoc()
    Y.applyUpdate(this.doc, before)
    const r = await postEdit(server, this.room, edits)
    const label = `${this.room} list ${this.lists}${what ? ` (${what})` : ''}: ${JSON.stringify(edits).slice(0, 400)}`
    this.lists++
    if (r.status !== 200 && problems && r.status === 400 && r.json?.error === 'invalid_edit') {
      // Both refusing is agreement: yjs throws on some lists too (clone() of text that embeds a
      // shared type, say).
      let yjsRefuses = false
      try {
        const d = oracleDoc()
        Y.applyUpdate(d, before)
        applyEdits(d, JSON.parse(JSON.stringify(edits)))
      } catch {
        yjsRefuses = true
      }
      // yjs's clone() of a text embedding a shared type fails inside the integration of the new
      // text (it logs a TypeError and leaves the embed out); the server refuses such a move.
      if (yjsRefuses || /text embedding a shared type/.test(r.json.message)) return null
      problems.push({ kind: `refused (${r.json.message.replace(/^edit \d+ /, '').slice(0, 80)})`, message: `${label}: yjs applies it, the server answers ${show(r)}`, file: saveCase(this, before, edits, null, r) })
      return null
    }
    assert.equal(r.status, 200, `${label}: ${show(r)}`)
    const j = r.json
    assert.equal(typeof j.clientId, 'number', `${label}: clientId ${show(r)}`)
    assert.ok(Number.isInteger(j.clientId) && j.clientId >= 0 && j.clientId < 2 ** 32, `${label}: clientId ${j.clientId}`)
    if (this.clientId === null) this.clientId = j.clientId
    assert.equal(j.clientId, this.clientId, `${label}: the server's client id changed while the room stayed loaded`)
    this.doc.clientID = j.clientId
    const want = applyEdits(this.doc, JSON.parse(JSON.stringify(edits)))
    const got = unb64(j.update)
    if (!sameBytes(got, want)) {
      const message = `${label}: update differs from yjs's\n  yjs:    ${hex(want)}\n  server: ${hex(got)}`
      if (!problems) assert.fail(message)
      problems.push({ kind: 'update bytes differ', message, file: saveCase(this, before, edits, want, r) })
      await this.resync()
      return j
    }
    assert.deepStrictEqual(svMap(unb64(j.stateVector)), svMap(Y.encodeStateVector(this.doc)), `${label}: state vector`)
    return j
  }

  // Starts the twin again from the server's state (after a disagreement).
  async resync () {
    this.doc.destroy()
    this.doc = oracleDoc()
    await this.load()
    this.doc.clientID = this.clientId
  }

  json () {
    const out = {}
    for (const [name, kind] of this.roots) out[name] = (kind === 'text' ? this.doc.getText(name) : kind === 'map' ? this.doc.getMap(name) : this.doc.getArray(name)).toJSON()
    return dropEmptyRoots(JSON.parse(JSON.stringify(out)))
  }

  async checkJson () {
    const got = dropEmptyRoots(await getJson(server, this.room))
    const want = this.json()
    if (!isDeepStrictEqual(got, want)) assert.fail(`${this.room}: GET JSON ${firstDiff(want, got)}`)
  }
}

test('every edit kind gives yjs\'s update byte for byte', { timeout: 120000 }, async () => {
  const twin = new Twin(randomRoom('edit-kinds'), [['t', 'text'], ['m', 'map'], ['a', 'array'], ['tasks', 'array']])
  const steps = [
    ['text.insert', [{ op: 'text.insert', type: 't', index: 0, text: 'Hello world' }]],
    ['text.insert with attributes', [{ op: 'text.insert', type: 't', index: 5, text: ' big', attributes: { bold: true } }]],
    ['text.insert inheriting formatting', [{ op: 'text.insert', type: 't', index: 7, text: 'GG' }]],
    ['text.insert astral and combining', [{ op: 'text.insert', type: 't', index: 0, text: '😀e\u0301 中 ' }]],
    ['text.format', [{ op: 'text.format', type: 't', index: 2, length: 6, attributes: { italic: true, color: '#0a0' } }]],
    ['text.format removing', [{ op: 'text.format', type: 't', index: 0, length: 9, attributes: { bold: null } }]],
    ['text.delete', [{ op: 'text.delete', type: 't', index: 2, length: 3 }]],
    ['map.set JSON values', [
      { op: 'map.set', type: 'm', key: 'title', value: 'Plan' },
      { op: 'map.set', type: 'm', key: 'n', value: 42 },
      { op: 'map.set', type: 'm', key: 'f', value: 0.5 },
      { op: 'map.set', type: 'm', key: 'big', value: 2 ** 53 - 1 },
      { op: 'map.set', type: 'm', key: 'neg', value: -(2 ** 31) },
      { op: 'map.set', type: 'm', key: 'b', value: false },
      { op: 'map.set', type: 'm', key: 'z', value: null },
      { op: 'map.set', type: 'm', key: 'o', value: { a: [1, 'x', { b: null }], 'ü': 1e21 } },
      { op: 'map.set', type: 'm', key: 'arr', value: [1, 2, 3] }]],
    ['map.set overwrite', [{ op: 'map.set', type: 'm', key: 'title', value: 'Plan B' }]],
    ['map.set nested types', [
      { op: 'map.set', type: 'm', key: 'body', value: { $type: 'text', value: 'nested text' } },
      { op: 'map.set', type: 'm', key: 'sub', value: { $type: 'map', value: { x: 1, deep: { $type: 'array', value: [1, { $type: 'text', value: 'in' }] } } } },
      { op: 'map.set', type: 'm', key: 'list', value: { $type: 'array', value: ['a', { $type: 'map', value: { k: 'v' } }] } }]],
    ['text ops through a path', [
      { op: 'text.insert', type: 'm', path: ['body'], index: 0, text: '>> ', attributes: { bold: true } },
      { op: 'text.delete', type: 'm', path: ['body'], index: 3, length: 2 },
      { op: 'text.format', type: 'm', path: ['sub', 'deep', 1], index: 0, length: 2, attributes: { code: true } }]],
    ['map ops through a path', [
      { op: 'map.set', type: 'm', path: ['sub'], key: 'y', value: 'why' },
      { op: 'map.delete', type: 'm', path: ['sub'], key: 'x' },
      { op: 'map.set', type: 'm', path: ['list', 1], key: 'k', value: 'v2' }]],
    ['map.delete', [{ op: 'map.delete', type: 'm', key: 'z' }]],
    ['array.insert', [{ op: 'array.insert', type: 'a', index: 0, values: [1, 'two', { three: 3 }, [4], null, true] }]],
    ['array.insert nested types', [{ op: 'array.insert', type: 'a', index: 2, values: [{ $type: 'map', value: { id: 'x' } }, { $type: 'text', value: 'tt' }, { $type: 'array', value: [1, 2] }] }]],
    ['array.insert at the end and through a path', [
      { op: 'array.insert', type: 'a', index: 9, values: ['end'] },
      { op: 'array.insert', type: 'a', path: [4], index: 1, values: ['mid'] },
      { op: 'array.insert', type: 'm', path: ['sub', 'deep'], index: 0, values: [0] }]],
    ['array.delete', [{ op: 'array.delete', type: 'a', index: 0, length: 2 }]],
    ['array.move a Y.Map forward', [{ op: 'array.move', type: 'a', from: 0, to: 3 }]],
    ['array.move a Y.Text in place and a value back', [{ op: 'array.move', type: 'a', from: 0, to: 0 }, { op: 'array.move', type: 'a', from: 4, to: 0 }]],
    ['array.move a Y.Text and a Y.Array', [{ op: 'array.move', type: 'a', from: 1, to: 7 }, { op: 'array.move', type: 'a', from: 2, to: 1 }]],
    ['array.move inside a path', [{ op: 'array.move', type: 'm', path: ['sub', 'deep'], from: 2, to: 0 }]],
    ['the tasks example', [{ op: 'array.insert', type: 'tasks', index: 0, values: [{ $type: 'map', value: { id: 't1', title: 'Write docs', done: false } }] }]],
    ['toggling a task', [{ op: 'map.set', type: 'tasks', path: [0], key: 'done', value: true }]],
    ['a long mixed list', [
      { op: 'array.insert', type: 'tasks', index: 1, values: [{ $type: 'map', value: { id: 't2', title: 'Review', done: false } }] },
      { op: 'array.move', type: 'tasks', from: 1, to: 0 },
      { op: 'text.insert', type: 't', index: 0, text: 'A' },
      { op: 'map.set', type: 'tasks', path: [1], key: 'title', value: 'Write the docs' },
      { op: 'text.delete', type: 't', index: 0, length: 1 },
      { op: 'map.delete', type: 'm', key: 'list' }]]
  ]
  const problems = []
  for (const [what, edits] of steps) await twin.edit(edits, { what, problems })
  await twin.checkJson()
  const json = await getJson(server, twin.room)
  assert.deepStrictEqual(json.tasks, [{ id: 't2', title: 'Review', done: false }, { id: 't1', title: 'Write the docs', done: true }])
  // The { "edits": [...] } form.
  const r = await postEdit(server, twin.room, { edits: [{ op: 'map.set', type: 'm', key: 'wrapped', value: 1 }] })
  assert.equal(r.status, 200, show(r))
  assert.equal((await getJson(server, twin.room)).m.wrapped, 1)
  reportProblems('kinds', problems)
})

test(`${LISTS} random edit lists give yjs's updates byte for byte`, { timeout: 900000 }, async () => {
  const g = new Prng(SEED)
  const counts = {}
  const rooms = 3
  const twins = Array.from({ length: rooms }, (_, i) => new Twin(`edit-random-${SEED}-${i}`, [['t', 'text'], ['m', 'map'], ['a', 'array']]))
  let edits = 0
  const problems = []
  for (let i = 0; i < LISTS; i++) {
    const twin = twins[i % rooms]
    const list = randomEditList(g, Y.encodeStateAsUpdate(twin.doc), twin.roots, 1 + g.int(7), counts)
    edits += list.length
    await twin.edit(list, { what: `random ${i}`, problems })
    if (i % 15 === 14) await twin.checkJson()
  }
  for (const twin of twins) {
    await twin.checkJson()
    assert.deepStrictEqual(svMap(await getStateVector(server, twin.room)), svMap(Y.encodeStateVector(twin.doc)))
  }
  figure('api_edit', 'random_lists', LISTS)
  figure('api_edit', 'random_edits', edits)
  for (const [op, n] of Object.entries(counts).sort()) figure('api_edit', op.replace('.', '_'), n)
  for (const op of ['text.insert', 'text.delete', 'text.format', 'map.set', 'map.delete', 'array.insert', 'array.delete', 'array.move']) {
    assert.ok(counts[op] > 0, `the random lists never used ${op}`)
  }
  reportProblems('random', problems)
})

test('random edit lists on documents from the differential harness', { timeout: 600000 }, async () => {
  const g = new Prng(SEED + 1)
  const problems = []
  for (let s = 0; s < 4; s++) {
    const session = generateSession(new Prng(SEED + 100 + s), { gc: true, v2: false })
    const room = `edit-session-${SEED}-${s}`
    for (const u of session.updates) await postUpdateOk(server, room, u)
    // Only roots the session made with the kinds edits address (xml is read, not edited).
    const roots = [['text', 'text'], ['map', 'map'], ['array', 'array']]
    const twin = new Twin(room, roots)
    await twin.load()
    const all = rootsJSON(twin.doc)
    assert.deepStrictEqual(dropEmptyRoots(await getJson(server, room)), all, `${room}: GET before editing`)
    for (let i = 0; i < 25; i++) {
      const list = randomEditList(g, Y.encodeStateAsUpdate(twin.doc), roots, 1 + g.int(5))
      await twin.edit(list, { what: `session ${s} random ${i}`, problems })
    }
    const got = dropEmptyRoots(await getJson(server, room))
    const want = rootsJSON(twin.doc)
    if (!isDeepStrictEqual(got, want)) problems.push({ kind: 'GET JSON differs', message: `${room}: GET after editing ${firstDiff(want, got)}`, file: '-' })
  }
  reportProblems('sessions', problems)
})

test('one list is one transaction: providers get one update; clientId stays; nothing changed → empty update', { timeout: 60000 }, async () => {
  const room = randomRoom('edit-one-tx')
  const a = wsClient(server, room)
  try {
    await synced(a.provider)
    const updates = []
    a.doc.on('update', (u, origin) => { if (origin === a.provider) updates.push(u) })
    const twin = new Twin(room, [['tasks', 'array'], ['m', 'map']])
    const j = await twin.edit([
      { op: 'array.insert', type: 'tasks', index: 0, values: [{ $type: 'map', value: { id: 't1', title: 'Write docs', done: false } }] },
      { op: 'map.set', type: 'tasks', path: [0], key: 'done', value: true },
      { op: 'map.set', type: 'm', key: 'count', value: 1 }
    ])
    await waitFor(() => a.doc.getArray('tasks').length === 1 && a.doc.getMap('m').get('count') === 1, 'the edit to reach the provider')
    assert.equal(updates.length, 1, `the provider applied ${updates.length} updates for one list`)
    assert.deepStrictEqual(a.doc.getArray('tasks').toJSON(), [{ id: 't1', title: 'Write docs', done: true }])
    assert.ok(sameBytes(Y.encodeStateVector(a.doc), unb64(j.stateVector)))
    // Nothing to do: an empty list, and deleting a key that is not there.
    for (const edits of [[], [{ op: 'map.delete', type: 'm', key: 'absent' }]]) {
      const r = await postEdit(server, room, edits)
      assert.equal(r.status, 200, `${JSON.stringify(edits)}: ${show(r)}`)
      assert.equal(r.json.update, '', `${JSON.stringify(edits)}: update should be empty, got ${r.json.update}`)
      assert.equal(r.json.stateVector, j.stateVector, `${JSON.stringify(edits)}: state vector changed`)
      assert.equal(r.json.clientId, j.clientId)
    }
  } finally {
    destroyAll(a)
  }
})

test('object keys are stored in JSON.parse order (integer-like keys first), as yjs stores them', async () => {
  const room = randomRoom('edit-key-order')
  const twin = new Twin(room, [['m', 'map']])
  await twin.edit([{ op: 'map.set', type: 'm', key: 'first', value: 0 }])
  // The body as a non-JS client could write it; JSON.parse (and so yjs) puts "2" and "10" first.
  const raw = '[{"op":"map.set","type":"m","key":"order","value":{"b":1,"10":2,"a":3,"2":4}}]'
  const r = await postEdit(server, room, null, { raw })
  assert.equal(r.status, 200, show(r))
  twin.doc.clientID = r.json.clientId
  const want = applyEdits(twin.doc, JSON.parse(raw))
  assert.equal(hex(unb64(r.json.update)), hex(want), 'ContentAny object keys in JSON.parse order')
})

// The room's whole state, to prove a refused list changed nothing.
const snapshot = async (room) => ({ sv: b64(await getStateVector(server, room)), state: b64(await getState(server, room)), json: await getJson(server, room) })

test('an invalid list changes nothing and names the failing edit', { timeout: 120000 }, async () => {
  const room = randomRoom('edit-invalid')
  const twin = new Twin(room, [['t', 'text'], ['m', 'map'], ['a', 'array']])
  await twin.edit([
    { op: 'text.insert', type: 't', index: 0, text: 'hello' },
    { op: 'map.set', type: 'm', key: 'body', value: { $type: 'text', value: 'x' } },
    { op: 'map.set', type: 'm', key: 'n', value: 1 },
    { op: 'array.insert', type: 'a', index: 0, values: [1, { $type: 'map', value: { k: 1 } }, 3] }
  ])
  const a = wsClient(server, room)
  try {
    await synced(a.provider)
    const before = await snapshot(room)
    const good = [
      { op: 'text.insert', type: 't', index: 0, text: 'NEW ' },
      { op: 'map.set', type: 'm', key: 'added', value: true }
    ]
    const cases = [
      ['a bad index in the 3rd edit', [...good, { op: 'array.delete', type: 'a', index: 7, length: 1 }], 2],
      ['text.insert past the end', [...good, { op: 'text.insert', type: 't', index: 99, text: 'x' }], 2],
      ['array.insert past the end', [good[0], { op: 'array.insert', type: 'a', index: 4, values: [1] }], 1],
      ['array.delete too long', [{ op: 'array.delete', type: 'a', index: 1, length: 3 }], 0],
      ['array.move from out of range', [...good, { op: 'array.move', type: 'a', from: 3, to: 0 }], 2],
      ['array.move to out of range', [...good, { op: 'array.move', type: 'a', from: 0, to: 3 }], 2],
      ['a negative index', [good[0], { op: 'text.delete', type: 't', index: -1, length: 1 }], 1],
      ['a fractional index', [{ op: 'array.insert', type: 'a', index: 0.5, values: [1] }], 0],
      ['an unknown op', [good[0], { op: 'text.shout', type: 't', index: 0, text: 'x' }, good[1]], 1],
      ['no op', [good[0], good[1], { type: 't', index: 0, text: 'x' }], 2],
      ['no type', [good[0], { op: 'map.set', key: 'k', value: 1 }], 1],
      ['a root of another kind (map op on text root t)', [...good, { op: 'map.set', type: 't', key: 'k', value: 1 }], 2],
      ['a root of another kind (text op on map root m)', [good[0], { op: 'text.insert', type: 'm', index: 0, text: 'x' }], 1],
      ['a path to a type of another kind (map op on a Y.Text)', [...good, { op: 'map.set', type: 'm', path: ['body'], key: 'k', value: 1 }], 2],
      ['a path to a plain value', [...good, { op: 'map.set', type: 'm', path: ['n'], key: 'k', value: 1 }], 2],
      ['a path through a missing key', [...good, { op: 'map.set', type: 'm', path: ['nope'], key: 'k', value: 1 }], 2],
      ['a path index out of range', [...good, { op: 'map.set', type: 'a', path: [5], key: 'k', value: 1 }], 2],
      ['a path element that is neither string nor number', [...good, { op: 'map.set', type: 'a', path: [true], key: 'k', value: 1 }], 2],
      ['a path through a plain value inside a map', [...good, { op: 'map.set', type: 'a', path: [1, 'k'], key: 'k', value: 1 }], 2],
      ['a number path element on a map', [...good, { op: 'map.set', type: 'a', path: [1, 0], key: 'k', value: 1 }], 2],
      ['a string first path element on an array root', [...good, { op: 'map.set', type: 'a', path: ['x'], key: 'k', value: 1 }], 2],
      ['text.insert without text', [good[0], { op: 'text.insert', type: 't', index: 0 }], 1],
      ['text.insert with a number as text', [good[0], { op: 'text.insert', type: 't', index: 0, text: 5 }], 1],
      ['attributes that are not an object', [good[0], { op: 'text.format', type: 't', index: 0, length: 1, attributes: 'bold' }], 1],
      ['map.set without key', [good[0], { op: 'map.set', type: 'm', value: 1 }], 1],
      ['map.set without value', [good[0], { op: 'map.set', type: 'm', key: 'k' }], 1],
      ['array.insert with values not an array', [good[0], { op: 'array.insert', type: 'a', index: 0, values: 1 }], 1],
      ['an unknown $type', [good[0], { op: 'map.set', type: 'm', key: 'k', value: { $type: 'xml', value: 'x' } }], 1],
      ['a $type text whose value is not a string', [good[0], { op: 'map.set', type: 'm', key: 'k', value: { $type: 'text', value: 1 } }], 1],
      ['an edit that is not an object', [good[0], good[1], 'text.insert'], 2]
    ]
    const problems = []
    for (const [what, edits, index] of cases) {
      const r = await postEdit(server, room, edits)
      if (r.status !== 400 || r.json?.error !== 'invalid_edit') { problems.push(`${what}: expected 400 invalid_edit, got ${show(r)}`); continue }
      if (r.json.index !== index) problems.push(`${what}: expected index ${index}, got ${show(r)}`)
      if (typeof r.json.message !== 'string' || !r.json.message.includes(String(index))) problems.push(`${what}: the message does not name edit ${index}: ${show(r)}`)
      const now = await snapshot(room)
      if (now.sv !== before.sv || now.state !== before.state || !isDeepStrictEqual(now.json, before.json)) problems.push(`${what}: the document changed`)
    }
    // The provider saw nothing: a marker edit after all of them is the first thing it gets.
    const seen = []
    a.doc.on('update', (u, origin) => { if (origin === a.provider) seen.push(u) })
    await twin.edit([{ op: 'map.set', type: 'm', key: 'marker', value: 1 }])
    await waitFor(() => a.doc.getMap('m').get('marker') === 1, 'the marker edit')
    assert.equal(seen.length, 1, `the provider got ${seen.length} updates, expected only the marker's`)
    assert.equal(a.doc.getText('t').toString(), 'hello')
    assert.equal(a.doc.getMap('m').get('added'), undefined)
    assert.deepStrictEqual(problems, [], `${problems.length} of ${cases.length} invalid lists:\n  ${problems.join('\n  ')}`)
  } finally {
    destroyAll(a)
  }
})
