// CRDT differential test: random multi-client yjs sessions (crdt_sessions.mjs) go to the C++
// engine as shuffled updates through crdt_interop_tool (protocol: crdt_protocol.mjs); real yjs
// checks what comes back. Per case: no rejection; C++'s state loads in yjs to the same content,
// delete set and state vector; C++'s state vector and JSON match; every peer's earlier state plus
// C++'s diff for it converges. Byte identity of C++'s state with yjs's is reported, not asserted.
//
// Env: TANDEM_CRDT_SESSIONS (default 2000, split over v1/v2 x gc on/off), TANDEM_CRDT_SEED,
// TANDEM_CRDT_ONLY=<case name> to regenerate and check one session, TANDEM_CRDT_FAILURE_DIR
// (failing cases are written there), TANDEM_CRDT_SHOW_FAILURES (default 10).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { Prng, toolPath } from './helpers.mjs'
import { generateSession } from './crdt_sessions.mjs'
import { flagsOf, writeCases, runTool } from './crdt_protocol.mjs'
import { checkResult, svMap, sameBytes } from './crdt_check.mjs'

const TOTAL = Number(process.env.TANDEM_CRDT_SESSIONS || 2000)
const SEED = Number(process.env.TANDEM_CRDT_SEED || 20261125)
const ONLY = process.env.TANDEM_CRDT_ONLY || ''
const FAILURE_DIR = process.env.TANDEM_CRDT_FAILURE_DIR || path.join(os.tmpdir(), 'tandem-crdt-failures')
const SHOW_FAILURES = Number(process.env.TANDEM_CRDT_SHOW_FAILURES || 10)

const CONFIGS = [{ v2: false, gc: true }, { v2: false, gc: false }, { v2: true, gc: true }, { v2: true, gc: false }]
const configName = (cfg) => `${cfg.v2 ? 'v2' : 'v1'}-${cfg.gc ? 'gc' : 'nogc'}`
// The name carries everything needed to regenerate the session.
const caseName = (seed, cfg) => `s${seed}-${configName(cfg)}`
const parseName = (name) => {
  const m = /^s(\d+)-(v[12])-(gc|nogc)$/.exec(name)
  if (!m) throw new Error(`TANDEM_CRDT_ONLY: not a case name: ${name}`)
  return { seed: Number(m[1]), cfg: { v2: m[2] === 'v2', gc: m[3] === 'gc' } }
}

const plan = () => {
  if (ONLY) return [parseName(ONLY)]
  return Array.from({ length: TOTAL }, (_, i) => ({ seed: SEED + i, cfg: CONFIGS[i % CONFIGS.length] }))
}

// One file per failing case, replayable with `crdt_interop_tool apply FILE OUT`.
const saveFailure = (name, c, session) => {
  fs.mkdirSync(FAILURE_DIR, { recursive: true })
  const file = path.join(FAILURE_DIR, `${name}.cases`)
  writeCases(file, [c])
  fs.writeFileSync(path.join(FAILURE_DIR, `${name}.expected.json`), JSON.stringify({
    json: session.expected.json,
    stateVector: svMap(session.expected.stateVector),
    peerStateVectors: session.peers.map(p => svMap(p.sv)),
    stateHex: Buffer.from(session.expected.state).toString('hex')
  }, null, 1))
  return file
}

const percent = ({ same, total }) => `${same}/${total} (${total ? (100 * same / total).toFixed(1) : '-'}%)`

test(`C++ engine matches yjs on ${ONLY || TOTAL + ' random'} editing sessions`, async () => {
  const tool = toolPath('CRDT_INTEROP_TOOL')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-crdt-'))
  // One batch per configuration; each batch's tool run overlaps the generation of the next.
  const batches = []
  for (const cfg of CONFIGS) {
    const items = plan().filter(p => isDeepStrictEqual(p.cfg, cfg))
    if (items.length === 0) continue
    const sessions = items.map(({ seed }) => ({ seed, name: caseName(seed, cfg), ...generateSession(new Prng(seed), cfg) }))
    const cases = sessions.map(s => ({ name: s.name, flags: flagsOf(cfg), updates: s.updates, peers: s.peerStateVectors }))
    const file = path.join(tmp, `${configName(cfg)}.cases`)
    writeCases(file, cases)
    const results = runTool(tool, file, path.join(tmp, `${configName(cfg)}.out`))
    results.catch(() => {}) // awaited below; keeps an early failure from being an unhandled rejection
    batches.push({ cfg, sessions, cases, results })
  }

  const failures = []
  const identical = { v1: { same: 0, total: 0 }, v2: { same: 0, total: 0 } }
  const identicalDiffs = { v1: { same: 0, total: 0 }, v2: { same: 0, total: 0 } }
  let checked = 0
  let stalled = 0
  let stalledAlike = 0
  for (const { cfg, sessions, cases, results: pending } of batches) {
    const results = await pending
    assert.equal(results.length, sessions.length, `${configName(cfg)}: tool returned ${results.length} results for ${sessions.length} cases`)
    const v = cfg.v2 ? 'v2' : 'v1'
    sessions.forEach((session, i) => {
      const result = results[i]
      const { problem, view, stalledLikeYjs } = result.name !== session.name
        ? { problem: `result ${i} is named ${result.name}`, view: session.expected }
        : checkResult(result, cfg, session.expected, session.peers)
      checked++
      if (session.yjsStalled) stalled++
      if (stalledLikeYjs) stalledAlike++
      identical[v].total++
      if (sameBytes(result.state, view.state)) identical[v].same++
      view.diffs.forEach((d, j) => {
        identicalDiffs[v].total++
        if (result.diffs[j] && sameBytes(result.diffs[j], d)) identicalDiffs[v].same++
      })
      if (problem) {
        failures.push(session.name)
        if (failures.length <= SHOW_FAILURES) {
          const file = saveFailure(session.name, cases[i], session)
          console.log(`FAIL ${session.name} (seed ${session.seed}, ${configName(cfg)}, ${session.updates.length} updates): ${problem}\n` +
            `  replay: $TANDEM_CRDT_INTEROP_TOOL apply ${file} out.bin, or TANDEM_CRDT_ONLY=${session.name}`)
        }
      }
    })
  }
  console.log(`crdt: ${checked} sessions checked, ${failures.length} failed; state byte-identical to yjs: ` +
    `v1 ${percent(identical.v1)}, v2 ${percent(identical.v2)}; peer diffs byte-identical: ` +
    `v1 ${percent(identicalDiffs.v1)}, v2 ${percent(identicalDiffs.v2)}; ` +
    `yjs stalls on pending structs in ${stalled}, the engine stalled alike in ${stalledAlike}`)
  fs.rmSync(tmp, { recursive: true, force: true })
  assert.equal(failures.length, 0, `${failures.length} of ${checked} sessions failed, first: ${failures.slice(0, 5).join(', ')} (cases in ${FAILURE_DIR})`)
})
