// Stand-in for the C++ editing_interop_tool, written with yjs itself: same command line, same
// JSON protocol (editing_protocol.md), answers through the executor the generator uses
// (editing_exec.mjs). Lets editing.test.mjs run end to end before the engine exists.
//   node editing_mock_tool.mjs run CASES.json OUT.json
//
// MOCK_BREAK=<what>[,<what>…] makes it answer wrong on purpose, once each per run (the test runs
// the tool once per batch of cases), in the first case from case MOCK_BREAK_CASE (default 3) of
// the run where it can, to check that the test notices and says where: update (flip a bit in a
// v1 update), update-v2 (in a v2 update), drop-update, event (drop an event from an observer
// call), delta (change an event's delta), keys (change a key's action), query (change a query
// answer), error (report an error), missing (leave the last case out).
import fs from 'node:fs'
import { runCase } from './editing_exec.mjs'

const [command, casesFile, outFile] = process.argv.slice(2)
if (command !== 'run' || !outFile) {
  console.error('usage: editing_mock_tool.mjs run CASES.json OUT.json')
  process.exit(2)
}

const { cases } = JSON.parse(fs.readFileSync(casesFile, 'utf8'))
const results = cases.map(runCase)

const FROM = Number(process.env.MOCK_BREAK_CASE || 3)
const flipHex = (h) => {
  const i = 2 * Math.floor(h.length / 4) // a byte in the middle
  return h.slice(0, i) + ((parseInt(h.slice(i, i + 2), 16) ^ 0x10).toString(16).padStart(2, '0')) + h.slice(i + 2)
}
// Applies fn to the first (case, step) from case FROM on where it returns true.
const breakFirst = (what, fn) => {
  for (let c = FROM; c < results.length; c++) {
    for (let s = 0; s < results[c].steps.length; s++) {
      if (fn(results[c].steps[s], results[c])) {
        console.error(`editing_mock_tool: MOCK_BREAK=${what} in ${results[c].name} step ${s}`)
        return
      }
    }
  }
  console.error(`editing_mock_tool: MOCK_BREAK=${what}: nothing to break`)
}
const BREAKS = {
  update: () => breakFirst('update', (st) => st.updates.length > 0 && (st.updates[0].v1 = flipHex(st.updates[0].v1), true)),
  'update-v2': () => breakFirst('update-v2', (st) => st.updates.length > 0 && (st.updates.at(-1).v2 = flipHex(st.updates.at(-1).v2), true)),
  'drop-update': () => breakFirst('drop-update', (st) => st.updates.length > 0 && (st.updates.pop(), true)),
  event: () => breakFirst('event', (st) => {
    const call = st.events.find(c => c.events.length > 1)
    return call !== undefined && (call.events.splice(1, 1), true)
  }),
  delta: () => breakFirst('delta', (st) => {
    const e = st.events.flatMap(c => c.events).find(e => e.delta.some(d => typeof d.insert === 'string'))
    if (!e) return false
    const d = e.delta.find(d => typeof d.insert === 'string')
    d.insert += 'x'
    return true
  }),
  keys: () => breakFirst('keys', (st) => {
    const e = st.events.flatMap(c => c.events).find(e => Object.values(e.keys).some(k => k.action === 'update'))
    if (!e) return false
    Object.values(e.keys).find(k => k.action === 'update').action = 'add'
    return true
  }),
  query: () => breakFirst('query', (st) => {
    const i = st.out.findIndex(o => o !== null && typeof o === 'object' && !Array.isArray(o) && 'json' in o && typeof o.json === 'object' && o.json !== null)
    if (i < 0) return false
    st.out[i] = { ...st.out[i], json: { ...st.out[i].json, extra: 1 } }
    return true
  }),
  error: () => breakFirst('error', (st, r) => {
    r.error = `step ${r.steps.indexOf(st)}: engine says no`
    r.steps.length = r.steps.indexOf(st)
    return true
  }),
  missing: () => { results.pop(); console.error('editing_mock_tool: MOCK_BREAK=missing') }
}
for (const what of (process.env.MOCK_BREAK || '').split(',').filter(Boolean)) {
  if (!BREAKS[what]) {
    console.error(`editing_mock_tool: unknown MOCK_BREAK ${what}; known: ${Object.keys(BREAKS).join(', ')}`)
    process.exit(2)
  }
  BREAKS[what]()
}

fs.writeFileSync(outFile, JSON.stringify({ results }))
