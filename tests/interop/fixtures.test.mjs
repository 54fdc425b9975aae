// Inputs made by others (TANDEM_SHARED_DATA, default ../shared/data next to the repository; see
// its READMEs) through crdt_interop_tool, checked against yjs: the 5,320 sessions of y-crdt's
// small-test-dataset, the B4 and egwalker documents, and real editing traces replayed in yjs.
// yjs's re-encoding, not the input bytes, is the reference (other writers order things
// differently); byte identity with it is reported, not asserted.
// Env: TANDEM_SHARED_DATA, TANDEM_CRDT_FAILURE_DIR, TANDEM_CRDT_SHOW_FAILURES (as crdt.test.mjs).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { Prng, toolPath } from './helpers.mjs'
import { FLAG_GC, FLAG_V2, writeCases, runTool } from './crdt_protocol.mjs'
import { format, reference, checkResult, dropEmptyRoots, firstDiff, sameBytes } from './crdt_check.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const DATA = process.env.TANDEM_SHARED_DATA || path.resolve(REPO, '../shared/data')
const FAILURE_DIR = process.env.TANDEM_CRDT_FAILURE_DIR || path.join(os.tmpdir(), 'tandem-crdt-failures')
const SKIP = fs.existsSync(DATA) ? false : `no shared data at ${DATA} (set TANDEM_SHARED_DATA)`
const SHOW_FAILURES = Number(process.env.TANDEM_CRDT_SHOW_FAILURES || 10)

const V1 = format(false)
const V2 = format(true)
const read = (...parts) => new Uint8Array(fs.readFileSync(path.join(DATA, ...parts)))

// small-test-dataset.bin: varUint(n), per test: varUint(#updates), varUint8Array each (v1),
// then the expected text 'text' (varString), map 'map' (any), array 'array' (any).
const smallDatasetCases = () => {
  const dec = decoding.createDecoder(read('yjs-fixtures', 'small-test-dataset.bin'))
  const g = new Prng(5320)
  const items = []
  for (let i = 0, n = decoding.readVarUint(dec); i < n; i++) {
    const updates = Array.from({ length: decoding.readVarUint(dec) }, () => decoding.readVarUint8Array(dec))
    const given = { text: decoding.readVarString(dec), map: decoding.readAny(dec), array: decoding.readAny(dec) }
    // One peer: the doc after a random prefix of the updates.
    const { peers, expected } = reference(true, V1, updates, ['text', 'map', 'array'], { peerAt: g.int(Math.max(0, updates.length - 1)) })
    items.push({ name: `small-test-dataset-${i}`, v2: false, updates, peers, expected, given: dropEmptyRoots(JSON.parse(JSON.stringify(given))) })
  }
  return items
}

// Whole documents as one update each: B4 (v1) and the egwalker datasets (v2).
const documentCases = () => [['b4-update.bin', false], ['egwalker-S1.yjs', true], ['egwalker-C1.yjs', true], ['egwalker-A1.yjs', true]]
  .map(([file, v2]) => {
    const updates = [read('yjs-fixtures', file)]
    return { name: file, v2, updates, peers: [], expected: reference(true, v2 ? V2 : V1, updates, ['text']).expected }
  })

// Trace positions count code points; yjs indexes UTF-16 units. Only astral characters differ.
const ASTRAL = /[\ud800-\udfff]/
const utf16Index = (s, from, codePoints) => {
  let i = from
  for (let n = 0; n < codePoints; n++) i += s.codePointAt(i) > 0xffff ? 2 : 1
  return i
}
const applyPatches = (text, patches, wide) => {
  for (const [pos, del, ins] of patches) {
    const s = wide ? text.toString() : null
    const at = wide ? utf16Index(s, 0, pos) : pos
    if (del > 0) text.delete(at, wide ? utf16Index(s, at, del) - at : del)
    if (ins !== '') text.insert(at, ins)
  }
}

// One yjs transaction per trace transaction on Y.Text 'text'; returns each transaction's update.
const replaySequential = (trace) => {
  const wide = ASTRAL.test(trace.startContent) || trace.txns.some(t => t.patches.some(p => ASTRAL.test(p[2])))
  const doc = new Y.Doc()
  doc.clientID = 1
  const text = doc.getText('text')
  const updates = []
  doc.on('update', u => updates.push(u))
  if (trace.startContent) text.insert(0, trace.startContent)
  for (const txn of trace.txns) doc.transact(() => applyPatches(text, txn.patches, wide))
  return updates
}

// Concurrent trace: one doc per agent. Before each transaction its agent's doc receives the
// transactions in the history of its parents that it lacks (in index order, which respects
// parents). Whether yjs's merge gives endContent is reported (for friendsforever it does,
// which shows the replay is right); yjs's own merge is the reference either way.
const replayConcurrent = (trace) => {
  const wide = trace.txns.some(t => t.patches.some(p => ASTRAL.test(p[2])))
  const agents = Array.from({ length: trace.numAgents }, (_, a) => {
    const doc = new Y.Doc()
    doc.clientID = a + 1
    const agent = { doc, text: doc.getText('text'), has: new Uint8Array(trace.txns.length), last: null }
    doc.on('update', (u, origin) => { if (origin !== 'remote') agent.last = u })
    return agent
  })
  const updates = []
  trace.txns.forEach((txn, i) => {
    const agent = agents[txn.agent]
    const missing = []
    const stack = [...txn.parents]
    while (stack.length > 0) {
      const j = stack.pop()
      if (agent.has[j]) continue
      agent.has[j] = 1
      missing.push(j)
      stack.push(...trace.txns[j].parents)
    }
    missing.sort((a, b) => a - b).forEach(j => Y.applyUpdate(agent.doc, updates[j], 'remote'))
    agent.last = null
    agent.doc.transact(() => applyPatches(agent.text, txn.patches, wide))
    agent.has[i] = 1
    updates.push(agent.last ?? Y.mergeUpdates([]))
  })
  return updates
}

const traceCases = () => fs.readdirSync(path.join(DATA, 'editing-traces')).filter(f => f.endsWith('.json.gz')).sort().map(file => {
  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(DATA, 'editing-traces', file))))
  const updates = trace.kind === 'concurrent' ? replayConcurrent(trace) : replaySequential(trace)
  const { peers, expected } = reference(true, V1, updates, ['text'], { peerAt: updates.length >> 1 })
  return {
    name: file.replace(/\.json\.gz$/, ''),
    v2: false,
    updates,
    peers,
    concurrent: trace.kind === 'concurrent',
    endContent: trace.endContent,
    expected
  }
})

// Builds every case file and starts the tool on each at once, so the runs overlap.
let prepared = null
const prepare = () => {
  if (prepared) return prepared
  const tool = toolPath('CRDT_INTEROP_TOOL')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-fixtures-'))
  const start = (label, items) => {
    const file = path.join(tmp, `${label}.cases`)
    writeCases(file, items.map(toCase))
    const results = runTool(tool, file, path.join(tmp, `${label}.out`))
    results.catch(() => {}) // awaited by its test; keeps an early failure from being unhandled
    return { items, results }
  }
  prepared = { tmp }
  prepared.small = start('small-test-dataset', smallDatasetCases())
  prepared.documents = start('documents', documentCases())
  prepared.traces = start('traces', traceCases())
  return prepared
}

// Failing cases are kept in FAILURE_DIR; the batch files go.
after(() => { if (prepared) fs.rmSync(prepared.tmp, { recursive: true, force: true }) })

const toCase = (item) => ({ name: item.name, flags: FLAG_GC | (item.v2 ? FLAG_V2 : 0), updates: item.updates, peers: item.peers.map(p => p.sv) })

const withExtra = (checked, extra) => checked.problem ? checked : { ...checked, problem: extra() }

// Checks every result; returns the failed names and per item whether C++'s state is
// byte-identical to yjs's.
const checkAll = async ({ items, results: pending }, extraCheck = () => null) => {
  const results = await pending
  assert.equal(results.length, items.length, `tool returned ${results.length} results for ${items.length} cases`)
  const failures = []
  const identical = items.map((item, i) => {
    const result = results[i]
    const { problem, view } = result.name !== item.name
      ? { problem: `result ${i} is named ${result.name}` }
      : withExtra(checkResult(result, { gc: true, v2: item.v2 }, item.expected, item.peers), () => extraCheck(item, result))
    const same = sameBytes(result.state, (view ?? item.expected).state)
    if (problem) {
      failures.push(item.name)
      if (failures.length <= SHOW_FAILURES) {
        fs.mkdirSync(FAILURE_DIR, { recursive: true })
        const file = path.join(FAILURE_DIR, `${item.name}.cases`)
        writeCases(file, [toCase(item)])
        console.log(`FAIL ${item.name} (${item.updates.length} updates): ${problem}\n  replay: $TANDEM_CRDT_INTEROP_TOOL apply ${file} out.bin`)
      }
    }
    return same
  })
  return { failures, identical }
}

const assertNoFailures = (failures, items) =>
  assert.equal(failures.length, 0, `${failures.length} of ${items.length} cases failed, first: ${failures.slice(0, 5).join(', ')} (cases in ${FAILURE_DIR})`)

const yesNo = (same) => same ? 'identical' : 'different'

test('small-test-dataset: 5,320 yjs sessions, C++ matches the given content and yjs', { skip: SKIP }, async () => {
  const batch = prepare().small
  // The file's expectations hold for yjs (its README says so); a mismatch here is a harness bug.
  for (const item of batch.items) assert.deepEqual(item.expected.json, item.given, `${item.name}: yjs disagrees with the file`)
  const { failures, identical } = await checkAll(batch)
  console.log(`fixtures: small-test-dataset ${batch.items.length} cases, ${failures.length} failed; ` +
    `state byte-identical to yjs: ${identical.filter(Boolean).length}/${identical.length}`)
  assertNoFailures(failures, batch.items)
})

test('B4 and egwalker documents: C++ state loads in yjs as the same text', { skip: SKIP }, async () => {
  const batch = prepare().documents
  const { failures, identical } = await checkAll(batch)
  console.log('fixtures: documents ' + batch.items.map((item, i) =>
    `${item.name} (${(item.expected.json.text ?? '').length} units) ${yesNo(identical[i])}`).join(', ') +
    ' (state vs yjs re-encoding)')
  assertNoFailures(failures, batch.items)
})

test('editing traces replayed in yjs: C++ ends with the trace\'s text', { skip: SKIP }, async () => {
  const batch = prepare().traces
  // A sequential replay must give endContent; a concurrent one only if yjs orders concurrent
  // inserts as the trace's recorder did, so there yjs's own merge is the reference.
  const yjsText = (item) => item.expected.json.text ?? ''
  for (const item of batch.items) {
    if (!item.concurrent) assert.equal(yjsText(item), item.endContent, `${item.name}: yjs replay ${firstDiff(item.endContent, yjsText(item))}`)
  }
  const { failures, identical } = await checkAll(batch, (item, result) => {
    const text = JSON.parse(result.json).text ?? ''
    return item.concurrent || text === item.endContent ? null : `text ${firstDiff(item.endContent, text)}`
  })
  console.log('fixtures: traces ' + batch.items.map((item, i) => `${item.name} (${item.updates.length} updates` +
    (item.concurrent ? `, concurrent: yjs ${yjsText(item) === item.endContent ? 'matches' : 'differs from'} endContent` : '') +
    `) ${yesNo(identical[i])}`).join(', ') + ' (state vs yjs re-encoding)')
  assertNoFailures(failures, batch.items)
})
