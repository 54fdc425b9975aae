// Editing API differential test: random scripts of local edits (editing_sessions.mjs) run in yjs
// and in the C++ engine through editing_interop_tool (protocol: editing_protocol.md) with the same
// client ids. Per step, the tool's update messages must be byte-identical to yjs's (v1 and v2,
// transaction by transaction, observer-made ones included), its deep-observer events must carry
// the same paths, deltas and keys, and its query answers must be the same.
//
// Env: TANDEM_EDITING_SESSIONS (default 1200), TANDEM_EDITING_SEED, TANDEM_EDITING_ONLY=<case name>
// to regenerate and check one case, TANDEM_EDITING_FAILURE_DIR (failing cases are written there),
// TANDEM_EDITING_SHOW_FAILURES (default 10).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { toolPath } from './helpers.mjs'
import { generateCase, seedOfName, REQUIRED_COVERAGE } from './editing_sessions.mjs'

const TOTAL = Number(process.env.TANDEM_EDITING_SESSIONS || 1200)
const SEED = Number(process.env.TANDEM_EDITING_SEED || 20261207)
const ONLY = process.env.TANDEM_EDITING_ONLY || ''
const FAILURE_DIR = process.env.TANDEM_EDITING_FAILURE_DIR || path.join(os.tmpdir(), 'tandem-editing-failures')
const SHOW_FAILURES = Number(process.env.TANDEM_EDITING_SHOW_FAILURES || 10)
const BATCH = 300 // cases per tool run; the tool runs a batch while the next one is generated

const seeds = () => ONLY ? [seedOfName(ONLY)] : Array.from({ length: TOTAL }, (_, i) => SEED + i)

// Runs `tool run cases out` with the tool's output passed through (sanitizer reports).
const runTool = (tool, casesFile, outFile) => new Promise((resolve, reject) => {
  const start = performance.now()
  const child = spawn(tool, ['run', casesFile, outFile], { stdio: ['ignore', 'inherit', 'inherit'] })
  child.on('error', reject)
  child.on('close', (code, signal) => {
    if (code !== 0) return reject(new Error(`${tool} run ${casesFile} exited with ${signal || code}`))
    try {
      const out = JSON.parse(fs.readFileSync(outFile, 'utf8'))
      if (!out || !Array.isArray(out.results)) throw new Error('no "results" array')
      resolve({ results: out.results, ms: performance.now() - start, start, end: performance.now() })
    } catch (e) {
      reject(new Error(`${outFile}: ${e.message}`))
    }
  })
})

// ---- Comparison: the first difference, said precisely.

const show = (v) => {
  const s = JSON.stringify(v)
  return s === undefined ? 'nothing' : s.length > 160 ? s.slice(0, 160) + '…' : s
}
const isHex = (s) => typeof s === 'string' && s.length % 2 === 0 && /^[0-9a-f]*$/.test(s)
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)

const hexDiff = (exp, got) => {
  let i = 0
  while (i < exp.length && i < got.length && exp[i] === got[i]) i++
  const off = i >> 1
  const around = (h) => {
    const from = Math.max(0, off - 12) * 2
    return `${from > 0 ? '…' : ''}${h.slice(from, off * 2)}[${h.slice(off * 2, off * 2 + 2)}]${h.slice(off * 2 + 2, off * 2 + 26)}${h.length > off * 2 + 26 ? '…' : ''}`
  }
  return `bytes differ at offset ${off} (expected ${exp.length / 2} bytes, got ${got.length / 2}): expected ${around(exp)}, got ${around(got)}`
}

// Where two JSON values first differ (object key order ignored, array order kept); null if equal.
const firstDiff = (exp, got, at = '') => {
  if (isDeepStrictEqual(exp, got)) return null
  if (isHex(exp) && isHex(got) && (exp.length > 16 || got.length > 16)) return `${at || 'value'}: ${hexDiff(exp, got)}`
  if (Array.isArray(exp) && Array.isArray(got)) {
    for (let i = 0; i < Math.min(exp.length, got.length); i++) {
      const d = firstDiff(exp[i], got[i], `${at}[${i}]`)
      if (d) return d
    }
    return exp.length > got.length
      ? `${at || 'value'}: expected ${exp.length} elements, got ${got.length}; missing [${got.length}] = ${show(exp[got.length])}`
      : `${at || 'value'}: expected ${exp.length} elements, got ${got.length}; extra [${exp.length}] = ${show(got[exp.length])}`
  }
  if (isObject(exp) && isObject(got)) {
    for (const k of [...new Set([...Object.keys(exp), ...Object.keys(got)])].sort()) {
      if (!(k in got)) return `${at}.${k}: missing, expected ${show(exp[k])}`
      if (!(k in exp)) return `${at}.${k}: unexpected ${show(got[k])}`
      const d = firstDiff(exp[k], got[k], `${at}.${k}`)
      if (d) return d
    }
  }
  return `${at || 'value'}: expected ${show(exp)}, got ${show(got)}`
}

const describeStep = (step) => {
  if ('txn' in step) return `client ${step.c} txn of ${step.txn.length}: ${step.txn.map(o => `${o.op} ${JSON.stringify(o.path)}`).join(', ')}`
  if ('sync' in step) return `client ${step.c} syncs from ${step.sync} (${step.v2 ? 'v2' : 'v1'})`
  return `client ${step.c} queries ${step.query.map(q => q.q).join(', ')}`
}

const compareUpdates = (exp, got) => {
  if (!Array.isArray(got)) return `"updates" is ${show(got)}`
  for (let j = 0; j < Math.max(exp.length, got.length); j++) {
    if (j >= got.length) return `expected ${exp.length} updates, got ${got.length}: update #${j} missing (v1 ${show(exp[j].v1)})`
    if (j >= exp.length) return `expected ${exp.length} updates, got ${got.length}: extra update #${j} (v1 ${show(got[j]?.v1)})`
    for (const f of ['v1', 'v2']) {
      if (got[j]?.[f] !== exp[j][f]) {
        return `update #${j} ${f}: ${isHex(got[j]?.[f]) ? hexDiff(exp[j][f], got[j][f]) : `expected hex, got ${show(got[j]?.[f])}`}`
      }
    }
  }
  return null
}

const compareEvents = (exp, got) => {
  if (!Array.isArray(got)) return `"events" is ${show(got)}`
  const roots = (calls) => calls.map(c => c?.root).join(',') || 'none'
  for (let j = 0; j < Math.min(exp.length, got.length); j++) {
    const e = exp[j]
    const a = got[j]
    const where = `observer call #${j} (root ${e.root})`
    if (a?.root !== e.root) return `${where}: got an observer call of root ${show(a?.root)} (expected calls: ${roots(exp)}, got: ${roots(got)})`
    if (!Array.isArray(a.events)) return `${where}: "events" is ${show(a.events)}`
    for (let i = 0; i < Math.min(e.events.length, a.events.length); i++) {
      for (const f of ['path', 'delta', 'keys']) {
        const d = firstDiff(e.events[i][f], a.events[i][f], f)
        if (d) return `${where} event #${i} (path ${show(e.events[i].path)}): ${d}`
      }
    }
    if (e.events.length !== a.events.length) {
      return `${where}: expected ${e.events.length} events, got ${a.events.length}; ` +
        (e.events.length > a.events.length ? `missing #${a.events.length} = ${show(e.events[a.events.length])}` : `extra #${e.events.length} = ${show(a.events[e.events.length])}`)
    }
  }
  if (exp.length !== got.length) return `expected ${exp.length} observer calls (roots ${roots(exp)}), got ${got.length} (roots ${roots(got)})`
  return null
}

const compareOut = (exp, got, step) => {
  if (!Array.isArray(got)) return `"out" is ${show(got)}`
  const what = (j) => 'query' in step ? `query #${j} ${show(step.query[j])}` : 'sync' in step ? 'sync message' : `out #${j}`
  for (let j = 0; j < Math.min(exp.length, got.length); j++) {
    const d = firstDiff(exp[j], got[j])
    if (d) return `${what(j)}: ${d}`
  }
  if (exp.length !== got.length) return `expected ${exp.length} answers in "out", got ${got.length}`
  return null
}

// The first difference of one case's result, or null.
const compareCase = (c, exp, got) => {
  if (!isObject(got)) return `no result (got ${show(got)})`
  if (got.name !== exp.name) return `result is named ${show(got.name)}`
  if (typeof got.error !== 'string' || !Array.isArray(got.steps)) return `malformed result: error ${show(got.error)}, steps ${show(got.steps)}`
  for (let s = 0; s < exp.steps.length; s++) {
    const where = `step ${s} (${describeStep(c.steps[s])})`
    if (s >= got.steps.length) {
      return got.error
        ? `${where}: the tool failed: ${got.error}`
        : `${where}: the tool returned ${got.steps.length} of ${exp.steps.length} steps and no error`
    }
    const e = exp.steps[s]
    const a = got.steps[s]
    if (!isObject(a)) return `${where}: result is ${show(a)}`
    const d = compareUpdates(e.updates, a.updates) ?? compareEvents(e.events, a.events) ?? compareOut(e.out, a.out, c.steps[s])
    if (d) return `${where}: ${d}`
  }
  if (got.steps.length > exp.steps.length) return `the tool returned ${got.steps.length} steps, the case has ${exp.steps.length}`
  if (got.error) return `the tool reported an error although every step matched: ${got.error}`
  return null
}

// One file per failing case, replayable with `editing_interop_tool run FILE OUT`.
const saveFailure = (c, exp, got) => {
  fs.mkdirSync(FAILURE_DIR, { recursive: true })
  const file = path.join(FAILURE_DIR, `${c.name}.json`)
  fs.writeFileSync(file, JSON.stringify({ cases: [c] }))
  fs.writeFileSync(path.join(FAILURE_DIR, `${c.name}.expected.json`), JSON.stringify({ results: [exp] }))
  if (got !== undefined) fs.writeFileSync(path.join(FAILURE_DIR, `${c.name}.got.json`), JSON.stringify({ results: [got] }))
  return file
}

const sumStats = (into, stats) => { for (const [k, v] of stats) into.set(k, (into.get(k) || 0) + v) }
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`

test(`C++ editing API matches yjs on ${ONLY || TOTAL + ' random'} scripts (updates, events, queries)`, async () => {
  const tool = toolPath('EDITING_INTEROP_TOOL')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-editing-'))
  const all = seeds()
  const stats = new Map()
  const shape = { gc: 0, nogc: 0, clients: [0, 0, 0, 0] }
  let genMs = 0
  const batches = []
  for (let b = 0; b < all.length; b += BATCH) {
    const t0 = performance.now()
    const generated = all.slice(b, b + BATCH).map(generateCase)
    genMs += performance.now() - t0
    for (const { case: c, stats: s } of generated) {
      sumStats(stats, s)
      shape[c.gc ? 'gc' : 'nogc']++
      shape.clients[c.clients.length]++
    }
    if (ONLY && generated[0].case.name !== ONLY) console.log(`note: seed ${all[0]} makes ${generated[0].case.name}, not ${ONLY}`)
    const file = path.join(tmp, `batch${b / BATCH}.json`)
    fs.writeFileSync(file, JSON.stringify({ cases: generated.map(x => x.case) }))
    const results = runTool(tool, file, path.join(tmp, `batch${b / BATCH}.out.json`))
    results.catch(() => {}) // awaited below; keeps an early failure from being an unhandled rejection
    batches.push({ generated, results })
  }

  const failures = []
  let checked = 0
  let toolStart = Infinity
  let toolEnd = 0
  let toolMs = 0
  for (const { generated, results: pending } of batches) {
    const { results, ms, start, end } = await pending
    toolMs += ms
    toolStart = Math.min(toolStart, start)
    toolEnd = Math.max(toolEnd, end)
    if (results.length !== generated.length) {
      const names = new Set(results.map(r => r?.name))
      const lost = generated.filter(x => !names.has(x.case.name)).map(x => x.case.name)
      assert.fail(`the tool returned ${results.length} results for ${generated.length} cases (missing: ${lost.slice(0, 5).join(', ')})`)
    }
    generated.forEach(({ case: c, expected }, i) => {
      checked++
      const problem = compareCase(c, expected, results[i])
      if (!problem) return
      failures.push(c.name)
      if (failures.length <= SHOW_FAILURES) {
        const file = saveFailure(c, expected, results[i])
        console.log(`FAIL ${c.name} (${c.clients.length} clients ${JSON.stringify(c.clients)}, ${c.steps.length} steps): ${problem}\n` +
          `  replay: $TANDEM_EDITING_INTEROP_TOOL run ${file} out.json (expected answers beside it), or TANDEM_EDITING_ONLY=${c.name}`)
      }
    })
  }
  fs.rmSync(tmp, { recursive: true, force: true })

  const n = (k) => stats.get(k) || 0
  const syncs = n('sync.v1') + n('sync.v2')
  const queries = [...stats].filter(([k]) => k.startsWith('query.')).reduce((s, [, v]) => s + v, 0)
  console.log(`editing: ${checked} scripts checked, ${failures.length} failed (${shape.gc} gc / ${shape.nogc} no gc; ` +
    `${shape.clients[1]}/${shape.clients[2]}/${shape.clients[3]} with 1/2/3 clients); ${n('steps')} steps: ` +
    `${n('txns')} transactions of ${n('ops')} ops, ${syncs} syncs (${n('sync.v2')} v2), ${queries} queries; ` +
    `${n('updates')} updates compared in v1 and v2, ${n('event-calls')} observer calls with ${n('events')} events; ` +
    `generated and run in yjs in ${secs(genMs)}, tool busy ${secs(toolMs)} (${secs(toolEnd - toolStart)} wall)`)
  const ops = [...stats].filter(([k]) => /^[A-Z]/.test(k)).sort(([a], [b]) => a < b ? -1 : 1)
  console.log(`editing ops: ${ops.map(([k, v]) => `${k} ${v}`).join(', ')}`)

  assert.equal(failures.length, 0, `${failures.length} of ${checked} scripts failed, first: ${failures.slice(0, 5).join(', ')} (cases in ${FAILURE_DIR})`)
  if (!ONLY && TOTAL >= 1000) {
    const missing = REQUIRED_COVERAGE.filter(k => !n(k))
    assert.deepEqual(missing, [], `the generator missed: ${missing.join(', ')}`)
  }
})
