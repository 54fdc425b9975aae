// dmonad/crdt-benchmarks B1-B4 (https://github.com/dmonad/crdt-benchmarks, js-lib/b1.js ... b4.js,
// js-lib/utils.js, benchmarks/yjs/factory.js, benchmarks/ywasm/factory.js) for yjs and ywasm, replayed
// from one shared, fully resolved operation file so that a C++ implementation runs the very same
// operations. Run from the repository root:
//
//   node --expose-gc bench/node/crdt.bench.mjs DIR [--write-data] [--no-gc] [--only=B1.1,B4] [--runs=3]
//
// --write-data  generates the operations (lib0 prng seeded 42, N = 6000, the exact draw order of
//               crdt-benchmarks) and writes DIR/crdt-bench-ops.bin, then, after the yjs runs,
//               DIR/crdt-bench-expected.json (final content and sizes as yjs produces them).
//               Without it, DIR/crdt-bench-ops.bin is read (generated in memory if absent).
// --no-gc       with --write-data: documents are created with gc disabled (the published
//               crdt-benchmarks table for yjs 13.6.15 / ywasm 0.17.4 matches gc disabled; the adapter
//               source uses the default, gc enabled, which is the default here). The choice is stored
//               in the ops file, whose header decides when the file is only read.
// --only        comma-separated row ids; --runs  repetitions of B1-B3 rows (median; B4 rows run once);
// --engines=yjs,ywasm  which peers to run (expected.json needs yjs); --ywasm-b4x10-cap-s=60: ywasm
// B4x10 runs only if 10 x its B4 time fits (it does not here: ywasm B4 alone takes ~30 s).
//
// Prints JSON on stdout: { yjs: { "B1.1": { timeMs, avgUpdateSize, encodeTimeMs, docSize,
// parseTimeMs, memBytes, ... } }, ywasm: { ... }, meta: { ... } }. Progress goes to stderr.
//
// ---------------------------------------------------------------------------------------------
// Ops file format (crdt-bench-ops.bin), lib0 encoding throughout; bench/crdt_ops_format.md is the
// full spec with the semantics of every step and column.
//
//   file   := varString magic "tandem-crdt-bench-ops"  varUint version (1)  varUint N (6000)
//             varUint gc (1 = documents keep gc enabled, 0 = gc disabled)  varUint rowCount  row*
//   row    := varString id ("B1.1")  varString title ("[B1.1] Append N characters")
//             varUint contentKind (0 = Y.Text 'text', 1 = Y.Array 'array', 2 = Y.Map 'map')
//             varUint userCount  userCount x varUint clientID
//             varUint updateSizeDivisor (avgUpdateSize = round(sum of logged V2 update bytes /
//                     divisor); 0 = not reported)
//             varUint parseReads (1 = parseTime includes reading the loaded content)
//             varUint stepCount  varUint stepBytes (byte length of the steps)  step*
//   step   := varUint kind, then
//     0 TEXT_INSERT   varUint user, varUint index, varString text      (UTF-16 index; all ASCII)
//     1 TEXT_DELETE   varUint user, varUint index, varUint length
//     2 ARRAY_INSERT  varUint user, varUint index, varUint count, count x any value
//     3 ARRAY_DELETE  varUint user, varUint index, varUint length
//     4 MAP_SET       varUint user, varString key, any value
//     5 TXN_BEGIN     varUint user   (edits up to the matching TXN_END are one transaction)
//     6 TXN_END       varUint user
//     7 DELIVER       varUint from, varUint to   (each update logged by `from` and not yet
//                     delivered to `to`, in log order, one applyUpdate/transaction each)
//     8 APPLY_ALL     varUint to     (every logged update so far, all users, in log order, inside
//                     ONE transaction of `to`)
//     9 TIME_BEGIN   10 TIME_END     (the row's `time` column is the wall time between them)
//    11 READ          varUint user   (read the user's content and compare it with the expected one)
//   An edit step outside TXN_BEGIN/TXN_END is a transaction of its own. Every local transaction
//   logs exactly one update (the V2 update its document emits); applying remote updates logs
//   nothing. After the steps: encode user 0 (encodeStateAsUpdateV2: encodeTime, docSize), load
//   that into a fresh document with an update listener (parseTime, memory).
// ---------------------------------------------------------------------------------------------
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import { Y, loadTrace } from './traces.mjs'

const require = createRequire(path.resolve('tests/interop/package.json'))
const ywasm = require('ywasm')
const prng = require('lib0/prng')
const encoding = require('lib0/encoding')
const decoding = require('lib0/decoding')

const dir = process.argv[2]
const args = process.argv.slice(3)
const flag = (name) => args.includes(name)
const opt = (name, dflt) => { const a = args.find(x => x.startsWith(name + '=')); return a ? a.slice(name.length + 1) : dflt }
const writeData = flag('--write-data')
let gcEnabled = !flag('--no-gc') // without --write-data the ops file's header decides
const only = opt('--only', null)?.split(',')
const RUNS = Number(opt('--runs', '3'))
const engines = opt('--engines', 'yjs,ywasm').split(',')
// ywasm B4x10 is attempted only if 10 x (ywasm B4 time) fits this cap (ywasm slows down as the
// document grows, so the estimate is optimistic).
const YWASM_B4X10_CAP_MS = Number(opt('--ywasm-b4x10-cap-s', '60')) * 1000
const log = (...a) => console.error('crdt-bench:', ...a)
const started = performance.now()

if (!dir) throw new Error('usage: crdt.bench.mjs DIR [--write-data] [--no-gc] [--only=...] [--runs=N]')
const opsFile = path.join(dir, 'crdt-bench-ops.bin')
const expectedFile = path.join(dir, 'crdt-bench-expected.json')

// ---------------------------------------------------------------------------------------------
// Step kinds and content kinds
const K = { TEXT_INSERT: 0, TEXT_DELETE: 1, ARRAY_INSERT: 2, ARRAY_DELETE: 3, MAP_SET: 4, TXN_BEGIN: 5, TXN_END: 6, DELIVER: 7, APPLY_ALL: 8, TIME_BEGIN: 9, TIME_END: 10, READ: 11 }
const TEXT = 0; const ARRAY = 1; const MAP = 2
const MAGIC = 'tandem-crdt-bench-ops'
const N = 6000

// ---------------------------------------------------------------------------------------------
// Generation: the exact crdt-benchmarks inputs. One lib0 prng (Xoroshiro128plus) seeded 42 is shared
// by every benchmark in this order: B2's initText (drawn when b2.js is imported, before B1 runs),
// then B1.1 ... B1.11, then B2.1 ... B2.4. B3 and B4 draw nothing. Client ids come from a second
// prng so that the benchmark draws stay untouched.
class RowWriter {
  constructor (id, title, contentKind, nUsers, { divisor, parseReads }) {
    Object.assign(this, { id, title, contentKind, nUsers, divisor, parseReads })
    this.e = encoding.createEncoder()
    this.steps = 0
    this.model = undefined // content the plain-JS model of crdt-benchmarks expects, when known
  }

  step (kind) { encoding.writeVarUint(this.e, kind); this.steps++; return this.e }
  textInsert (u, i, s) { const e = this.step(K.TEXT_INSERT); encoding.writeVarUint(e, u); encoding.writeVarUint(e, i); encoding.writeVarString(e, s) }
  textDelete (u, i, n) { const e = this.step(K.TEXT_DELETE); encoding.writeVarUint(e, u); encoding.writeVarUint(e, i); encoding.writeVarUint(e, n) }
  arrayInsert (u, i, vals) { const e = this.step(K.ARRAY_INSERT); encoding.writeVarUint(e, u); encoding.writeVarUint(e, i); encoding.writeVarUint(e, vals.length); for (const v of vals) encoding.writeAny(e, v) }
  mapSet (u, key, v) { const e = this.step(K.MAP_SET); encoding.writeVarUint(e, u); encoding.writeVarString(e, key); encoding.writeAny(e, v) }
  txnBegin (u) { encoding.writeVarUint(this.step(K.TXN_BEGIN), u) }
  txnEnd (u) { encoding.writeVarUint(this.step(K.TXN_END), u) }
  deliver (from, to) { const e = this.step(K.DELIVER); encoding.writeVarUint(e, from); encoding.writeVarUint(e, to) }
  applyAll (to) { encoding.writeVarUint(this.step(K.APPLY_ALL), to) }
  timeBegin () { this.step(K.TIME_BEGIN) }
  timeEnd () { this.step(K.TIME_END) }
  read (u) { encoding.writeVarUint(this.step(K.READ), u) }
}

const generate = () => {
  const gen = prng.create(42)
  const idGen = prng.create(0x7a6e) // client ids: uniform 32-bit like yjs' random.uint32()
  const rows = []
  const newRow = (id, title, contentKind, nUsers, o) => { const r = new RowWriter(id, title, contentKind, nUsers, o); rows.push(r); return r }
  const initText = prng.word(gen, 100, 100) // b2.js module scope

  // B1: user 0 edits (one transaction per call); user 1 then applies every update; checks read both.
  const b1 = (id, title, kind, inputCount, edit, model) => {
    const r = newRow(id, title, kind, 2, { divisor: inputCount, parseReads: 1 })
    r.timeBegin(); edit(r); r.deliver(0, 1); r.read(0); r.read(1); r.timeEnd()
    r.model = model
  }
  let s = prng.word(gen, N, N)
  { const str = s; b1('B1.1', '[B1.1] Append N characters', TEXT, N, r => { for (let i = 0; i < N; i++) r.textInsert(0, i, str[i]) }, str) }
  s = prng.word(gen, N, N)
  { const str = s; b1('B1.2', '[B1.2] Insert string of length N', TEXT, 1, r => r.textInsert(0, 0, str), str) }
  s = prng.word(gen, N, N)
  { const str = s; const rev = str.split('').reverse(); b1('B1.3', '[B1.3] Prepend N characters', TEXT, N, r => { for (const c of rev) r.textInsert(0, 0, c) }, str) }
  {
    let str = ''; const input = []
    for (let i = 0; i < N; i++) {
      const index = prng.int32(gen, 0, str.length); const insert = prng.word(gen, 1, 1)
      str = str.slice(0, index) + insert + str.slice(index); input.push([index, insert])
    }
    b1('B1.4', '[B1.4] Insert N characters at random positions', TEXT, N, r => { for (const [i, t] of input) r.textInsert(0, i, t) }, str)
  }
  {
    let str = ''; const input = []
    for (let i = 0; i < N; i++) {
      const index = prng.int32(gen, 0, str.length); const insert = prng.word(gen, 2, 10)
      str = str.slice(0, index) + insert + str.slice(index); input.push([index, insert])
    }
    b1('B1.5', '[B1.5] Insert N words at random positions', TEXT, N, r => { for (const [i, t] of input) r.textInsert(0, i, t) }, str)
  }
  s = prng.word(gen, N, N)
  { const str = s; b1('B1.6', '[B1.6] Insert string, then delete it', TEXT, 1, r => { r.textInsert(0, 0, str); r.textDelete(0, 0, str.length) }, '') }
  {
    let str = ''; const input = []
    for (let i = 0; i < N; i++) {
      const index = prng.uint32(gen, 0, str.length)
      if (str.length === index || prng.bool(gen)) {
        const insert = prng.word(gen, 2, 10)
        str = str.slice(0, index) + insert + str.slice(index); input.push([index, insert])
      } else {
        const deleteCount = prng.uint32(gen, 1, Math.min(9, str.length - index))
        str = str.slice(0, index) + str.slice(index + deleteCount); input.push([index, deleteCount])
      }
    }
    b1('B1.7', '[B1.7] Insert/Delete strings at random positions', TEXT, N, r => { for (const [i, x] of input) typeof x === 'string' ? r.textInsert(0, i, x) : r.textDelete(0, i, x) }, str)
  }
  {
    const nums = Array.from({ length: N }).map(() => prng.uint32(gen, 0, 0x7fffffff))
    b1('B1.8', '[B1.8] Append N numbers', ARRAY, N, r => nums.forEach((v, i) => r.arrayInsert(0, i, [v])), nums)
  }
  {
    const nums = Array.from({ length: N }).map(() => prng.uint32(gen, 0, 0x7fffffff))
    b1('B1.9', '[B1.9] Insert Array of N numbers', ARRAY, 1, r => r.arrayInsert(0, 0, nums), nums)
  }
  {
    const nums = Array.from({ length: N }).map(() => prng.uint32(gen, 0, 0x7fffffff))
    b1('B1.10', '[B1.10] Prepend N numbers', ARRAY, N, r => nums.forEach(v => r.arrayInsert(0, 0, [v])), nums.slice().reverse())
  }
  {
    const nums = []; const input = []
    for (let i = 0; i < N; i++) {
      const index = prng.uint32(gen, 0, nums.length); const insert = prng.uint32(gen, 0, 0x7fffffff)
      nums.splice(index, 0, insert); input.push([index, insert])
    }
    b1('B1.11', '[B1.11] Insert N numbers at random positions', ARRAY, N, r => { for (const [i, v] of input) r.arrayInsert(0, i, [v]) }, nums)
  }

  // B2: users 0 and 1 are coupled like crdt-benchmarks' mutex pair: every local transaction's update
  // goes to the other user right after the transaction. User 0 inserts initText (untimed), then
  // [time] user 0 runs its edits in one transaction, user 1 (which already has them) runs its own.
  const b2 = (id, title, input1, input2) => {
    const r = newRow(id, title, TEXT, 2, { divisor: 2, parseReads: 1 })
    r.textInsert(0, 0, initText); r.deliver(0, 1)
    r.timeBegin()
    for (const [u, input] of [[0, input1], [1, input2]]) {
      r.txnBegin(u)
      for (const [i, x] of input) typeof x === 'string' ? r.textInsert(u, i, x) : r.textDelete(u, i, x)
      r.txnEnd(u); r.deliver(u, 1 - u)
    }
    r.read(0); r.read(1); r.timeEnd()
  }
  {
    const s1 = prng.word(gen, N, N); const s2 = prng.word(gen, N, N)
    b2('B2.1', '[B2.1] Concurrently insert string of length N at index 0', [[0, s1]], [[0, s2]])
  }
  const genInput = (wordMin, wordMax) => {
    let str = initText; const input = []
    for (let i = 0; i < N; i++) {
      const index = prng.uint32(gen, 0, str.length); const insert = prng.word(gen, wordMin, wordMax)
      str = str.slice(0, index) + insert + str.slice(index); input.push([index, insert])
    }
    return input
  }
  { const a = genInput(1, 1); const b = genInput(1, 1); b2('B2.2', '[B2.2] Concurrently insert N characters at random positions', a, b) }
  { const a = genInput(3, 9); const b = genInput(3, 9); b2('B2.3', '[B2.3] Concurrently insert N words at random positions', a, b) }
  {
    const gen24 = () => {
      let str = initText; const input = []
      for (let i = 0; i < N; i++) {
        const index = prng.uint32(gen, 0, str.length); const insert = prng.word(gen, 3, 9)
        str = str.slice(0, index) + insert + str.slice(index); input.push([index, insert])
        if (str.length === index || prng.bool(gen)) {
          const insert2 = prng.word(gen, 2, 10)
          str = str.slice(0, index) + insert2 + str.slice(index); input.push([index, insert2])
        } else {
          const deleteCount = prng.uint32(gen, 1, Math.min(9, str.length - index))
          str = str.slice(0, index) + str.slice(index + deleteCount); input.push([index, deleteCount])
        }
      }
      return input
    }
    const a = gen24(); const b = gen24()
    b2('B2.4', '[B2.4] Concurrently insert & delete', a, b)
  }

  // B3: 20 * floor(sqrt(N)) = 1540 users each make one change; user 0 applies every update in one
  // transaction (untimed), then [time] user 1 does the same and both are read.
  const sqrtN = Math.floor(Math.sqrt(N)) * 20
  const b3 = (id, title, kind, change) => {
    const r = newRow(id, title, kind, sqrtN, { divisor: 1, parseReads: 1 })
    for (let i = 0; i < sqrtN; i++) change(r, i)
    r.applyAll(0)
    r.timeBegin(); r.applyAll(1); r.read(0); r.read(1); r.timeEnd()
  }
  b3('B3.1', '[B3.1] 20√N clients concurrently set number in Map', MAP, (r, i) => r.mapSet(i, 'v', i))
  b3('B3.2', '[B3.2] 20√N clients concurrently set Object in Map', MAP, (r, i) => r.mapSet(i, 'v', { name: i.toString(), address: 'here' }))
  b3('B3.3', '[B3.3] 20√N clients concurrently set String in Map', MAP, (r, i) => r.mapSet(i, 'v', i.toString().repeat(sqrtN)))
  b3('B3.4', '[B3.4] 20√N clients concurrently insert text in Array', ARRAY, (r, i) => r.arrayInsert(i, 0, [i.toString()]))

  // B4: the automerge-paper trace, one call (= one transaction) per delete and per insert.
  const trace = loadTrace('automerge-paper')
  if (trace.startContent || /[^\x00-\x7f]/.test(trace.endContent)) throw new Error('B4 trace: expected an empty start and ASCII content')
  const edits = trace.txns.flatMap(t => t.patches)
  const b4Ops = edits.reduce((n, [, del, ins]) => n + (del > 0 ? 1 : 0) + (ins.length > 0 ? 1 : 0), 0)
  const replay = (r, base) => {
    for (const [pos, del, ins] of edits) {
      if (del > 0) r.textDelete(0, base + pos, del)
      if (ins.length > 0) r.textInsert(0, base + pos, ins)
    }
  }
  {
    const r = newRow('B4', '[B4] Apply real-world editing dataset', TEXT, 1, { divisor: b4Ops, parseReads: 1 })
    r.timeBegin(); replay(r, 0); r.read(0); r.timeEnd()
    r.model = trace.endContent
  }
  {
    // B4x10: the trace 10 times, each repetition appended after the text so far (as in
    // bench/node/traces.mjs). Like crdt-benchmarks' B4x100, time and parse do not read the content;
    // the READ after TIME_END checks it untimed.
    const r = newRow('B4x10', '[B4x10] Apply real-world editing dataset 10 times', TEXT, 1, { divisor: b4Ops * 10, parseReads: 0 })
    r.timeBegin()
    for (let k = 0; k < 10; k++) replay(r, k * trace.endContent.length)
    r.timeEnd(); r.read(0)
    r.model = trace.endContent.repeat(10)
  }

  // Client ids, unique within a row.
  for (const r of rows) {
    const ids = new Set()
    while (ids.size < r.nUsers) ids.add(prng.uint32(idGen, 1, 0xffffffff))
    r.clientIDs = [...ids]
  }

  const e = encoding.createEncoder()
  encoding.writeVarString(e, MAGIC)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, N)
  encoding.writeVarUint(e, gcEnabled ? 1 : 0)
  encoding.writeVarUint(e, rows.length)
  for (const r of rows) {
    encoding.writeVarString(e, r.id)
    encoding.writeVarString(e, r.title)
    encoding.writeVarUint(e, r.contentKind)
    encoding.writeVarUint(e, r.nUsers)
    for (const id of r.clientIDs) encoding.writeVarUint(e, id)
    encoding.writeVarUint(e, r.divisor)
    encoding.writeVarUint(e, r.parseReads)
    encoding.writeVarUint(e, r.steps)
    const body = encoding.toUint8Array(r.e)
    encoding.writeVarUint(e, body.length)
    encoding.writeUint8Array(e, body)
  }
  const models = Object.fromEntries(rows.filter(r => r.model !== undefined).map(r => [r.id, r.model]))
  return { bytes: encoding.toUint8Array(e), models }
}

// ---------------------------------------------------------------------------------------------
// Decoding: the header and row headers at once; a row's steps only when the row runs (into flat
// kind/user/a/b arrays plus a payload array), so one row's operations are in memory at a time.
const decodeOps = (bytes) => {
  const d = decoding.createDecoder(bytes)
  if (decoding.readVarString(d) !== MAGIC) throw new Error('not a crdt-bench ops file')
  const version = decoding.readVarUint(d)
  if (version !== 1) throw new Error('unsupported ops file version ' + version)
  const n = decoding.readVarUint(d)
  const gc = decoding.readVarUint(d) === 1
  const rowCount = decoding.readVarUint(d)
  const rows = []
  for (let r = 0; r < rowCount; r++) {
    const id = decoding.readVarString(d)
    const title = decoding.readVarString(d)
    const contentKind = decoding.readVarUint(d)
    const nUsers = decoding.readVarUint(d)
    const clientIDs = []
    for (let i = 0; i < nUsers; i++) clientIDs.push(decoding.readVarUint(d))
    const divisor = decoding.readVarUint(d)
    const parseReads = decoding.readVarUint(d) === 1
    const count = decoding.readVarUint(d)
    const stepBytes = decoding.readUint8Array(d, decoding.readVarUint(d))
    rows.push({ id, title, contentKind, nUsers, clientIDs, divisor, parseReads, count, stepBytes })
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes after the last row')
  return { N: n, gc, rows }
}

const decodeSteps = (row) => {
  const { id, count } = row
  const d = decoding.createDecoder(row.stepBytes)
  const oneChar = new Map()
  const intern = (s) => { if (s.length !== 1) return s; let c = oneChar.get(s); if (c === undefined) { c = s; oneChar.set(s, s) } return c }
  const kind = new Uint8Array(count); const user = new Uint32Array(count)
  const a = new Uint32Array(count); const b = new Uint32Array(count); const payload = new Array(count)
  const open = []
  for (let i = 0; i < count; i++) {
    const k = kind[i] = decoding.readVarUint(d)
    switch (k) {
      case K.TEXT_INSERT: user[i] = decoding.readVarUint(d); a[i] = decoding.readVarUint(d); payload[i] = intern(decoding.readVarString(d)); break
      case K.TEXT_DELETE: case K.ARRAY_DELETE: user[i] = decoding.readVarUint(d); a[i] = decoding.readVarUint(d); b[i] = decoding.readVarUint(d); break
      case K.ARRAY_INSERT: {
        user[i] = decoding.readVarUint(d); a[i] = decoding.readVarUint(d)
        const len = decoding.readVarUint(d); const vals = new Array(len)
        for (let j = 0; j < len; j++) vals[j] = decoding.readAny(d)
        payload[i] = vals
        break
      }
      case K.MAP_SET: user[i] = decoding.readVarUint(d); payload[i] = [decoding.readVarString(d), decoding.readAny(d)]; break
      case K.TXN_BEGIN: user[i] = decoding.readVarUint(d); open.push(i); break
      case K.TXN_END: { user[i] = decoding.readVarUint(d); const s = open.pop(); if (s === undefined || user[s] !== user[i]) throw new Error(`${id}: unbalanced TXN_END at step ${i}`); b[s] = i; break }
      case K.DELIVER: a[i] = decoding.readVarUint(d); user[i] = decoding.readVarUint(d); break
      case K.APPLY_ALL: case K.READ: user[i] = decoding.readVarUint(d); break
      case K.TIME_BEGIN: case K.TIME_END: break
      default: throw new Error(`${id}: unknown step kind ${k} at step ${i}`)
    }
  }
  if (open.length) throw new Error(`${id}: unterminated TXN_BEGIN`)
  if (decoding.hasContent(d)) throw new Error(`${id}: trailing bytes after the last step`)
  const keepsUpdates = kind.some(k => k === K.DELIVER || k === K.APPLY_ALL)
  return { ...row, kind, user, a, b, payload, keepsUpdates }
}

// ---------------------------------------------------------------------------------------------
// Engines: the same surface for yjs and ywasm, shaped like crdt-benchmarks' adapters (every document
// has a V2 update listener; encode/load use update format V2).
const rootName = ['text', 'array', 'map']

const yjsEngine = {
  name: 'yjs',
  create (clientID, onUpdate) {
    const doc = new Y.Doc({ gc: gcEnabled })
    if (clientID !== undefined) doc.clientID = clientID
    doc.on('updateV2', onUpdate)
    return { doc, text: doc.getText('text'), array: doc.getArray('array'), map: doc.getMap('map'), txn: null }
  },
  // Runs f inside one transaction of d (f performs edits through the methods below).
  transact (d, f) { d.doc.transact(f) },
  textInsert (d, i, s) { d.text.insert(i, s) },
  textDelete (d, i, n) { d.text.delete(i, n) },
  arrayInsert (d, i, v) { d.array.insert(i, v) },
  arrayDelete (d, i, n) { d.array.delete(i, n) },
  mapSet (d, k, v) { d.map.set(k, v) },
  apply (d, u) { Y.applyUpdateV2(d.doc, u) },
  applyAll (d, us) { d.doc.transact(() => { for (const u of us) Y.applyUpdateV2(d.doc, u) }) },
  read (d, kind) { return kind === TEXT ? d.text.toString() : kind === ARRAY ? d.array.toArray() : d.map.toJSON() },
  encode (d) { return Y.encodeStateAsUpdateV2(d.doc) },
  encodeV1 (d) { return Y.encodeStateAsUpdate(d.doc) },
  free () {}
}

const ywasmEngine = {
  name: 'ywasm',
  create (clientID, onUpdate) {
    const doc = new ywasm.YDoc(clientID !== undefined ? { clientID, gc: gcEnabled } : { gc: gcEnabled })
    const observer = doc.onUpdateV2(onUpdate)
    return { doc, observer, text: doc.getText('text'), array: doc.getArray('array'), map: doc.getMap('map'), txn: null }
  },
  // Like the crdt-benchmarks ywasm adapter: an explicit transaction per call unless one is open.
  transact (d, f) {
    if (d.txn) return f()
    d.txn = d.doc.beginTransaction(null)
    try { f() } finally { const t = d.txn; d.txn = null; t.free() }
  },
  textInsert (d, i, s) { this.transact(d, () => d.text.insert(i, s, null, d.txn)) },
  textDelete (d, i, n) { this.transact(d, () => d.text.delete(i, n, d.txn)) },
  arrayInsert (d, i, v) { this.transact(d, () => d.array.insert(i, v, d.txn)) },
  arrayDelete (d, i, n) { this.transact(d, () => d.array.delete(i, n, d.txn)) },
  mapSet (d, k, v) { this.transact(d, () => d.map.set(k, v, d.txn)) },
  apply (d, u) { this.transact(d, () => d.txn.applyV2(u)) },
  applyAll (d, us) { this.transact(d, () => { for (const u of us) d.txn.applyV2(u) }) },
  read (d, kind) { return kind === TEXT ? d.text.toString() : kind === ARRAY ? d.array.toJson() : d.map.toJson() },
  encode (d) { return ywasm.encodeStateAsUpdateV2(d.doc) },
  encodeV1 (d) { return ywasm.encodeStateAsUpdate(d.doc) },
  // Everything wasm-bindgen handed out is freed explicitly: its FinalizationRegistry callbacks only
  // run when the event loop turns, and without this wasm memory grows and ywasm slows down row by row.
  free (d) { d.text.free(); d.array.free(); d.map.free(); d.observer.free(); d.doc.free() }
}

// Canonical form for comparing content across users, runs and engines.
const canonical = (v) => {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']'
  if (v !== null && typeof v === 'object') return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}'
  return JSON.stringify(v)
}
const sameContent = (kind, x, y) => {
  if (kind === TEXT) return x === y
  if (kind === ARRAY) {
    if (x.length !== y.length) return false
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && canonical(x[i]) !== canonical(y[i])) return false
    return true
  }
  return canonical(x) === canonical(y)
}

const gc = () => { if (global.gc) { global.gc(); global.gc() } }
const heapUsed = () => process.memoryUsage().heapUsed
const wasmBytes = () => ywasm.__wasm ? ywasm.__wasm.memory.buffer.byteLength : 0

// One execution of a row. `expected` (content every READ must match) may be undefined: the first
// READ then becomes the reference. Returns the metrics and, if asked, extra data for the files.
const runRow = (E, row, expected, { keepSnapshot = false } = {}) => {
  const { kind, user, a, b, payload, contentKind } = row
  const perUser = Array.from({ length: row.nUsers }, () => [])
  const all = []
  let updateBytes = 0
  let recording = -1
  // Updates are kept only if a later step applies them (B4 rows just count their bytes).
  const keep = row.keepsUpdates
  const docs = row.clientIDs.map((id, k) => E.create(id, (u) => {
    if (recording === k) { updateBytes += u.length; if (keep) { perUser[k].push(u); all.push(u) } }
  }))
  const delivered = new Map()
  let t0 = NaN; let t1 = NaN
  let reference = expected
  const edit = (i) => {
    const d = docs[user[i]]
    switch (kind[i]) {
      case K.TEXT_INSERT: E.textInsert(d, a[i], payload[i]); break
      case K.TEXT_DELETE: E.textDelete(d, a[i], b[i]); break
      case K.ARRAY_INSERT: E.arrayInsert(d, a[i], payload[i]); break
      case K.ARRAY_DELETE: E.arrayDelete(d, a[i], b[i]); break
      case K.MAP_SET: E.mapSet(d, payload[i][0], payload[i][1]); break
      default: throw new Error(`${row.id}: step ${i} of kind ${kind[i]} inside a transaction`)
    }
  }
  for (let i = 0; i < row.count; i++) {
    switch (kind[i]) {
      case K.TEXT_INSERT: case K.TEXT_DELETE: case K.ARRAY_INSERT: case K.ARRAY_DELETE: case K.MAP_SET:
        recording = user[i]; edit(i); recording = -1
        break
      case K.TXN_BEGIN: {
        const end = b[i]
        recording = user[i]
        E.transact(docs[user[i]], () => { for (let j = i + 1; j < end; j++) edit(j) })
        recording = -1
        i = end
        break
      }
      case K.DELIVER: {
        const from = a[i]; const to = user[i]; const key = to * row.nUsers + from
        const list = perUser[from]
        for (let j = delivered.get(key) || 0; j < list.length; j++) E.apply(docs[to], list[j])
        delivered.set(key, list.length)
        break
      }
      case K.APPLY_ALL: E.applyAll(docs[user[i]], all); break
      case K.TIME_BEGIN: t0 = performance.now(); break
      case K.TIME_END: t1 = performance.now(); break
      case K.READ: {
        const c = E.read(docs[user[i]], contentKind)
        if (reference === undefined) reference = c
        else if (!sameContent(contentKind, c, reference)) throw new Error(`${E.name} ${row.id}: user ${user[i]} content differs from the expected content`)
        break
      }
      default: throw new Error(`${row.id}: unexpected step kind ${kind[i]}`)
    }
  }
  let e0 = performance.now()
  const snapshot = E.encode(docs[0])
  const encodeTimeMs = performance.now() - e0
  const extra = {}
  if (keepSnapshot) { extra.snapshotV2 = snapshot; extra.snapshotV1 = E.encodeV1(docs[0]) }
  for (const d of docs) E.free(d)
  docs.length = 0
  perUser.length = 0
  all.length = 0

  // parseTime: a fresh document (with an update listener, as crdt-benchmarks' load() creates it)
  // applies the snapshot and, if the row says so, reads and checks the content. No forced GC inside.
  const load = () => {
    const d = E.create(undefined, () => {})
    E.apply(d, snapshot)
    if (row.parseReads && !sameContent(contentKind, E.read(d, contentKind), reference)) throw new Error(`${E.name} ${row.id}: loaded content differs`)
    return d
  }
  e0 = performance.now()
  const parsed = load()
  const parseTimeMs = performance.now() - e0
  E.free(parsed)

  // Memory, crdt-benchmarks style: gc, heapUsed, load, gc, heapUsed difference, with the document
  // still referenced. The same bracket timed whole is crdt-benchmarks' parseTime (GC included).
  e0 = performance.now()
  gc()
  const h0 = heapUsed(); const w0 = wasmBytes()
  const held = load()
  gc()
  const memBytes = heapUsed() - h0
  const parseTimeWithGcMs = performance.now() - e0
  const wasmGrowthBytes = wasmBytes() - w0
  E.free(held)

  const metrics = {
    timeMs: t1 - t0,
    avgUpdateSize: row.divisor ? Math.round(updateBytes / row.divisor) : null,
    encodeTimeMs,
    docSize: snapshot.length,
    parseTimeMs,
    memBytes,
    parseTimeWithGcMs,
    updateBytes
  }
  if (E === ywasmEngine) metrics.wasmGrowthBytes = wasmGrowthBytes
  return { metrics, content: reference, extra }
}

const median = (xs) => { const s = xs.slice().sort((p, q) => p - q); return s[s.length >> 1] }
const medianMetrics = (list) => {
  const out = {}
  for (const key of Object.keys(list[0])) out[key] = median(list.map(m => m[key]))
  out.runs = list.length
  return out
}

// ---------------------------------------------------------------------------------------------
let opsBytes
let models = {}
if (writeData) {
  fs.mkdirSync(dir, { recursive: true })
  const g0 = performance.now()
  const g = generate()
  opsBytes = g.bytes; models = g.models
  fs.writeFileSync(opsFile, opsBytes)
  log(`wrote ${opsFile} (${(opsBytes.length / 2 ** 20).toFixed(1)} MiB) in ${(performance.now() - g0).toFixed(0)} ms`)
} else if (fs.existsSync(opsFile)) {
  opsBytes = new Uint8Array(fs.readFileSync(opsFile))
} else {
  log(`${opsFile} not found: generating the operations in memory`)
  const g = generate()
  opsBytes = g.bytes; models = g.models
}
const program = decodeOps(opsBytes)
if (program.gc !== gcEnabled) log(`the operations were written with gc ${program.gc ? 'enabled' : 'disabled'}: running that way`)
gcEnabled = program.gc
const rows = program.rows.filter(r => !only || only.includes(r.id))

const results = { yjs: {}, ywasm: {} }
const expected = {}
const runEngines = [yjsEngine, ywasmEngine].filter(E => engines.includes(E.name))
const sha = (u) => crypto.createHash('sha256').update(u).digest('hex')
gc()

for (const header of rows) {
  const row = decodeSteps(header)
  let content = models[row.id] // what every READ must find: the model, else yjs' first result
  for (const E of runEngines) {
    if (E === ywasmEngine && row.id === 'B4x10') {
      const b4 = results.ywasm.B4
      const estimate = b4 && !b4.skipped ? b4.timeMs * 10 : NaN
      if (!(estimate <= YWASM_B4X10_CAP_MS)) {
        results.ywasm.B4x10 = {
          skipped: Number.isNaN(estimate)
            ? 'ywasm B4 was not run, so its B4x10 time cannot be estimated'
            : `estimated over ${(estimate / 1000).toFixed(0)} s (10 x ywasm B4 ${(b4.timeMs / 1000).toFixed(1)} s; ywasm slows down as the document grows) > cap ${(YWASM_B4X10_CAP_MS / 1000).toFixed(0)} s`
        }
        log('ywasm B4x10 skipped:', results.ywasm.B4x10.skipped)
        continue
      }
    }
    const runs = row.id.startsWith('B4') ? 1 : RUNS
    const list = []
    for (let r = 0; r < runs; r++) {
      const first = E === yjsEngine && r === 0
      const out = runRow(E, row, content, { keepSnapshot: first && writeData })
      content = out.content
      if (first && writeData) {
        expected[row.id] = {
          title: row.title,
          contentKind: rootName[row.contentKind],
          users: row.nUsers,
          content: out.content,
          contentLength: row.contentKind === MAP ? Object.keys(out.content).length : out.content.length,
          contentSha256: sha(row.contentKind === TEXT ? out.content : canonical(out.content)),
          docSize: out.metrics.docSize,
          docSizeV1: out.extra.snapshotV1.length,
          snapshotV2Sha256: sha(out.extra.snapshotV2),
          snapshotV1Sha256: sha(out.extra.snapshotV1),
          updateBytes: out.metrics.updateBytes,
          avgUpdateSize: out.metrics.avgUpdateSize
        }
      }
      list.push(out.metrics)
      await new Promise(resolve => setImmediate(resolve)) // let finalizers run
      gc()
    }
    const m = results[E.name][row.id] = medianMetrics(list)
    log(`${E.name} ${row.id}: time ${m.timeMs.toFixed(1)} ms, docSize ${m.docSize}, parse ${m.parseTimeMs.toFixed(2)} ms (${((performance.now() - started) / 1000).toFixed(0)} s elapsed${E === ywasmEngine ? `, wasm memory ${(wasmBytes() / 2 ** 20).toFixed(0)} MiB` : ''})`)
    const y = results.yjs[row.id]
    if (E === ywasmEngine && y && m.docSize !== y.docSize) log(`note: ywasm ${row.id} docSize ${m.docSize}, yjs ${y.docSize}`)
  }
}

if (writeData && runEngines.includes(yjsEngine)) {
  fs.writeFileSync(expectedFile, JSON.stringify({
    note: 'Per row: user 0\'s final content as yjs produces it (every user that reads it holds the same; B3 users 2..n-1 never receive updates and hold only their own change), yjs V2 (docSize) and V1 snapshot sizes of user 0 with their sha256, total V2 bytes of the logged updates. Written by bench/node/crdt.bench.mjs from crdt-bench-ops.bin; spec: bench/crdt_ops_format.md.',
    yjs: require('yjs/package.json').version,
    gc: gcEnabled,
    rows: expected
  }) + '\n')
  log(`wrote ${expectedFile}`)
}

results.meta = {
  N: program.N,
  gc: gcEnabled,
  runs: RUNS,
  node: process.version,
  yjs: require('yjs/package.json').version,
  ywasm: require('ywasm/package.json').version,
  exposeGc: typeof global.gc === 'function',
  totalSeconds: Math.round((performance.now() - started) / 1000),
  notes: [
    'Medians of the runs (B4 rows: one run). time = wall time between TIME_BEGIN and TIME_END of the ops file.',
    'avgUpdateSize = round(total V2 update bytes / divisor): B1 per input item, B2 total/2, B3 the total (crdt-benchmarks updateSize), B4 per edit (not reported by crdt-benchmarks).',
    'parseTimeMs excludes forced GC; parseTimeWithGcMs is crdt-benchmarks\' parseTime (gc + load + read + gc).',
    'memBytes = V8 heapUsed growth holding the loaded document (crdt-benchmarks memUsed); ywasm memory lives in wasm linear memory (wasmGrowthBytes, growth of the never-shrinking wasm heap).'
  ]
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n')
