// Stand-in for the C++ crdt_interop_tool, written with yjs itself: same command line, same batch
// protocol (crdt_protocol.mjs). Lets the CRDT tests run end to end before the engine exists,
// and shows what a perfect engine scores (every check passes, 100% byte identity).
//   node crdt_mock_tool.mjs apply CASES_FILE OUT_FILE
import * as Y from 'yjs'
import { FLAG_GC, FLAG_V2, readCases, writeResults } from './crdt_protocol.mjs'
import { format, oracleDoc, applyAll, rootsJSON } from './crdt_check.mjs'

const [command, casesFile, outFile] = process.argv.slice(2)
if (command !== 'apply' || !outFile) {
  console.error('usage: crdt_mock_tool.mjs apply CASES_FILE OUT_FILE')
  process.exit(2)
}

const results = readCases(casesFile).map(({ name, flags, updates, peers }) => {
  const fmt = format((flags & FLAG_V2) !== 0)
  const doc = oracleDoc((flags & FLAG_GC) !== 0)
  let error = ''
  try {
    applyAll(doc, fmt, updates)
  } catch (e) {
    error = String(e?.message ?? e)
  }
  return {
    name,
    error,
    state: fmt.encodeState(doc),
    sv: Y.encodeStateVector(doc),
    json: JSON.stringify(rootsJSON(doc)),
    diffs: peers.map(sv => fmt.encodeState(doc, sv))
  }
})
writeResults(outFile, results)
