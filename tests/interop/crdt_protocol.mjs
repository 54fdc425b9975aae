// The batch protocol between the CRDT differential tests and crdt_interop_tool (or its yjs
// stand-in, crdt_mock_tool.mjs). What the tests check is in crdt_check.mjs.
//
// CASES file: varUint(n), per case: varString(name), varUint(flags: 1 = gc, 2 = v2),
//   varUint(#updates) + varUint8Array each, varUint(#peers) + varUint8Array(state vector) each.
// OUT file: varUint(n), per case: varString(name), varString(error), varUint8Array(state),
//   varUint8Array(sv), varString(json), varUint(#peers) + varUint8Array(diff) each.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const FLAG_GC = 1
export const FLAG_V2 = 2

export const flagsOf = ({ gc, v2 }) => (gc ? FLAG_GC : 0) | (v2 ? FLAG_V2 : 0)

export const writeCases = (file, cases) => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, cases.length)
  for (const c of cases) {
    encoding.writeVarString(enc, c.name)
    encoding.writeVarUint(enc, c.flags)
    encoding.writeVarUint(enc, c.updates.length)
    for (const u of c.updates) encoding.writeVarUint8Array(enc, u)
    encoding.writeVarUint(enc, c.peers.length)
    for (const sv of c.peers) encoding.writeVarUint8Array(enc, sv)
  }
  fs.writeFileSync(file, encoding.toUint8Array(enc))
}

export const readCases = (file) => {
  const dec = decoding.createDecoder(new Uint8Array(fs.readFileSync(file)))
  const cases = []
  for (let n = decoding.readVarUint(dec); n > 0; n--) {
    const name = decoding.readVarString(dec)
    const flags = decoding.readVarUint(dec)
    const updates = Array.from({ length: decoding.readVarUint(dec) }, () => decoding.readVarUint8Array(dec))
    const peers = Array.from({ length: decoding.readVarUint(dec) }, () => decoding.readVarUint8Array(dec))
    cases.push({ name, flags, updates, peers })
  }
  return cases
}

export const writeResults = (file, results) => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, results.length)
  for (const r of results) {
    encoding.writeVarString(enc, r.name)
    encoding.writeVarString(enc, r.error)
    encoding.writeVarUint8Array(enc, r.state)
    encoding.writeVarUint8Array(enc, r.sv)
    encoding.writeVarString(enc, r.json)
    encoding.writeVarUint(enc, r.diffs.length)
    for (const d of r.diffs) encoding.writeVarUint8Array(enc, d)
  }
  fs.writeFileSync(file, encoding.toUint8Array(enc))
}

export const readResults = (file) => {
  const bytes = new Uint8Array(fs.readFileSync(file))
  const dec = decoding.createDecoder(bytes)
  const results = []
  for (let n = decoding.readVarUint(dec); n > 0; n--) {
    const name = decoding.readVarString(dec)
    const error = decoding.readVarString(dec)
    const state = decoding.readVarUint8Array(dec)
    const sv = decoding.readVarUint8Array(dec)
    const json = decoding.readVarString(dec)
    const diffs = Array.from({ length: decoding.readVarUint(dec) }, () => decoding.readVarUint8Array(dec))
    results.push({ name, error, state, sv, json, diffs })
  }
  if (dec.pos !== bytes.length) throw new Error(`${file}: ${bytes.length - dec.pos} trailing bytes`)
  return results
}

// Runs `tool apply cases out` with the tool's output passed through (sanitizer reports).
export const runTool = (tool, casesFile, outFile) => new Promise((resolve, reject) => {
  const child = spawn(tool, ['apply', casesFile, outFile], { stdio: ['ignore', 'inherit', 'inherit'] })
  child.on('error', reject)
  child.on('close', (code, signal) => code === 0
    ? resolve(readResults(outFile))
    : reject(new Error(`${tool} apply ${casesFile} exited with ${signal || code}`)))
})
