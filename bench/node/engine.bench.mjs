// yjs and ywasm on the engine workloads of bench/engine_benchmark.cc. With --write-data it first
// writes the shared inputs into argv[2]: b4-updates.bin (one update per edit), b4-snapshot.bin,
// b4x10-snapshot.bin. Prints JSON: { engine: { workload: { ms, bytes? } } }.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { Y, loadTrace, replayTrace, writeUpdates, readUpdates, sharedData } from './traces.mjs'

const require = createRequire(path.resolve('tests/interop/package.json'))
const ywasm = require('ywasm')
const dir = process.argv[2]

if (process.argv.includes('--write-data')) {
  fs.mkdirSync(dir, { recursive: true })
  const trace = loadTrace('automerge-paper')
  const t0 = performance.now()
  const { doc, updates } = replayTrace(trace, { collect: true })
  const replayMs = performance.now() - t0
  if (doc.getText('text').toString() !== trace.endContent) throw new Error('B4 replay diverged')
  writeUpdates(path.join(dir, 'b4-updates.bin'), updates)
  fs.writeFileSync(path.join(dir, 'b4-snapshot.bin'), Y.encodeStateAsUpdate(doc))
  const x10 = replayTrace(trace, { times: 10 }).doc
  fs.writeFileSync(path.join(dir, 'b4x10-snapshot.bin'), Y.encodeStateAsUpdate(x10))
  fs.writeFileSync(path.join(dir, 'b4-replay-ms.json'), JSON.stringify({ replayMs }))
  // A small room: one client typed a short line.
  const small = new Y.Doc()
  small.clientID = 1
  small.getText('text').insert(0, 'hello world')
  fs.writeFileSync(path.join(dir, 'small-update.bin'), Y.encodeStateAsUpdate(small))
}

// Median of repeated runs after warm-up. What fn returns is passed to `after` outside the timing
// (freeing a ywasm document is not part of loading it, as yjs's are freed later by the GC and
// Tandem's benchmark frees its documents untimed too).
const median = (runs, fn, after = () => {}) => {
  for (let i = 0; i < 2; i++) after(fn())
  const times = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    const r = fn()
    times.push(performance.now() - t)
    after(r)
  }
  times.sort((a, b) => a - b)
  return times[times.length >> 1]
}

const gc = () => { if (global.gc) { global.gc(); global.gc() } }
const heapAfter = (make) => {
  gc()
  const before = process.memoryUsage().heapUsed + process.memoryUsage().external
  const keep = make()
  gc()
  const after = process.memoryUsage().heapUsed + process.memoryUsage().external
  return { bytes: after - before, keep }
}
const wasmMemory = () => ywasm.__wasm ? ywasm.__wasm.memory.buffer.byteLength : NaN

const snapshots = {
  B4: new Uint8Array(fs.readFileSync(path.join(dir, 'b4-snapshot.bin'))),
  B4x10: new Uint8Array(fs.readFileSync(path.join(dir, 'b4x10-snapshot.bin')))
}
const egwalker = Object.fromEntries(['S1', 'C1', 'A1'].map(n =>
  [n, new Uint8Array(fs.readFileSync(path.join(sharedData, 'yjs-fixtures', `egwalker-${n}.yjs`)))]))
const updates = readUpdates(path.join(dir, 'b4-updates.bin'))

const results = { yjs: {}, ywasm: {} }

for (const [name, snap] of Object.entries(snapshots)) {
  const runs = name === 'B4' ? 31 : 5
  results.yjs[`load ${name}`] = { ms: median(runs, () => { const d = new Y.Doc(); Y.applyUpdate(d, snap); d.getText('text').toString() }) }
  const loaded = new Y.Doc()
  Y.applyUpdate(loaded, snap)
  results.yjs[`encode ${name}`] = { ms: median(runs, () => Y.encodeStateAsUpdate(loaded)) }
  results.yjs[`memory ${name}`] = { bytes: heapAfter(() => { const d = new Y.Doc(); Y.applyUpdate(d, snap); return d }).bytes }

  results.ywasm[`load ${name}`] = { ms: median(runs, () => { const d = new ywasm.YDoc({}); ywasm.applyUpdate(d, snap); d.getText('text').toString(); return d }, d => d.free()) }
  const wloaded = new ywasm.YDoc({})
  ywasm.applyUpdate(wloaded, snap)
  results.ywasm[`encode ${name}`] = { ms: median(runs, () => ywasm.encodeStateAsUpdate(wloaded)) }
  const m0 = wasmMemory()
  const wd = new ywasm.YDoc({})
  ywasm.applyUpdate(wd, snap)
  results.ywasm[`memory ${name}`] = { bytes: wasmMemory() - m0, note: 'wasm heap growth' }
}

for (const [name, bytes] of Object.entries(egwalker)) {
  results.yjs[`load egwalker-${name}`] = { ms: median(5, () => { const d = new Y.Doc(); Y.applyUpdateV2(d, bytes); d.getText('text').toString() }) }
  results.ywasm[`load egwalker-${name}`] = { ms: median(5, () => { const d = new ywasm.YDoc({}); ywasm.applyUpdateV2(d, bytes); d.getText('text').toString(); return d }, d => d.free()) }
}

results.yjs['apply B4 updates'] = { ms: median(3, () => { const d = new Y.Doc(); for (const u of updates) Y.applyUpdate(d, u) }) }
results.ywasm['apply B4 updates'] = { ms: median(1, () => { const d = new ywasm.YDoc({}); for (const u of updates) ywasm.applyUpdate(d, u); return d }, d => d.free()) }

// Memory of many small documents (a server's idle rooms), per document.
{
  const small = new Uint8Array(fs.readFileSync(path.join(dir, 'small-update.bin')))
  const count = 1000
  results.yjs['memory small'] = {
    bytes: heapAfter(() => Array.from({ length: count }, () => { const d = new Y.Doc(); Y.applyUpdate(d, small); return d })).bytes / count
  }
  const m0 = wasmMemory()
  const docs = Array.from({ length: count }, () => { const d = new ywasm.YDoc({}); ywasm.applyUpdate(d, small); return d })
  results.ywasm['memory small'] = { bytes: (wasmMemory() - m0) / count, note: 'wasm heap growth' }
  for (const d of docs) d.free()
}

process.stdout.write(JSON.stringify(results, null, 2) + '\n')
