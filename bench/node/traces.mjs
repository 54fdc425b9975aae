// Editing traces (../shared/data/editing-traces) replayed into yjs, and the B4 inputs every
// engine benchmark shares: one update per edit, the final snapshot, and B4x10.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { createRequire } from 'node:module'

const require = createRequire(path.resolve('tests/interop/package.json'))
export const Y = require('yjs')
export const encoding = require('lib0/encoding')
export const decoding = require('lib0/decoding')

export const sharedData = process.env.TANDEM_SHARED_DATA || path.resolve('../shared/data')

export const loadTrace = (name) =>
  JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(sharedData, 'editing-traces', name + '.json.gz'))).toString('utf8'))

// Replays a sequential trace `times` times into a Y.Text 'text', one transaction per patch (B4),
// each repetition appended after the text so far. Returns the doc and, if asked, every update.
export const replayTrace = (trace, { times = 1, collect = false, clientID = 1 } = {}) => {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText('text')
  const updates = []
  if (collect) doc.on('update', u => updates.push(u))
  const ascii = !/[^\x00-\x7f]/.test(trace.endContent) && !/[^\x00-\x7f]/.test(trace.startContent || '')
  if (trace.startContent) text.insert(0, trace.startContent)
  for (let r = 0; r < times; r++) {
    const base = text.length
    for (const txn of trace.txns) {
      for (const [pos, del, ins] of txn.patches) {
        // Positions count code points; ASCII traces need no conversion.
        const at = base + (ascii ? pos : utf16Offset(text.toString().slice(base), pos))
        doc.transact(() => {
          if (del > 0) text.delete(at, ascii ? del : utf16Offset(text.toString().slice(at), del))
          if (ins.length > 0) text.insert(at, ins)
        })
      }
    }
  }
  return { doc, updates }
}

const utf16Offset = (s, codePoints) => {
  let i = 0
  for (let n = 0; n < codePoints && i < s.length; n++) i += s.codePointAt(i) > 0xffff ? 2 : 1
  return i
}

export const writeUpdates = (file, updates) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, updates.length)
  for (const u of updates) encoding.writeVarUint8Array(e, u)
  fs.writeFileSync(file, encoding.toUint8Array(e))
}

export const readUpdates = (file) => {
  const d = decoding.createDecoder(new Uint8Array(fs.readFileSync(file)))
  const n = decoding.readVarUint(d)
  const out = []
  for (let i = 0; i < n; i++) out.push(decoding.readVarUint8Array(d))
  return out
}
