// The wire format the load benchmarks speak (bench/node/server_load.mjs, cluster_load.mjs): the
// y-websocket framing, and Hocuspocus's (each message prefixed with the document's name, after
// an auth message), plus the two sync messages a raw client sends.
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(path.resolve('tests/interop/package.json'))
const Y = require('yjs')
const encoding = require('lib0/encoding')
const decoding = require('lib0/decoding')

export const framing = {
  plain: {
    url: (port, room) => `ws://127.0.0.1:${port}/${room}`,
    open: () => [],
    wrap: (room, bytes) => bytes,
    unwrap: (data) => decoding.createDecoder(data)
  },
  hocuspocus: {
    url: (port) => `ws://127.0.0.1:${port}/`,
    // The provider's first message: auth with an (empty) token.
    open: (room) => {
      const e = encoding.createEncoder()
      encoding.writeVarString(e, room)
      encoding.writeVarUint(e, 2)
      encoding.writeVarUint(e, 0)
      encoding.writeVarString(e, '')
      return [encoding.toUint8Array(e)]
    },
    wrap: (room, bytes) => {
      const e = encoding.createEncoder()
      encoding.writeVarString(e, room)
      encoding.writeUint8Array(e, bytes)
      return encoding.toUint8Array(e)
    },
    unwrap: (data) => { const d = decoding.createDecoder(data); decoding.readVarString(d); return d }
  }
}

export const syncStep1 = (() => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0)
  encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc()))
  return encoding.toUint8Array(e)
})()
export const updateMessage = (update) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}
