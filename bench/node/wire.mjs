// The wire format the load benchmarks speak (bench/node/server_load.mjs, cluster_load.mjs): the
// y-websocket framing, and Hocuspocus's (each message prefixed with the document's name, after
// an auth message), plus the two sync messages a raw client sends.
import net from 'node:net'
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

// A WebSocket client on a bare TCP socket, for loads where the load generator's own CPU matters
// (saturation): no per-message objects or events beyond the socket's data, frames parsed in
// place, client frames masked with the all-zero key (RFC 6455 allows any key; zero leaves the
// payload as it is). Resolves { send(bytes), terminate() } once the server answered sync step 1;
// onUpdate() runs for every sync update (outer 0, inner 2) received.

const clientFrame = (payload) => {
  const n = payload.length
  const head = n < 126 ? Buffer.from([0x82, 0x80 | n, 0, 0, 0, 0])
    : n < 65536 ? Buffer.from([0x82, 0xfe, n >> 8, n & 0xff, 0, 0, 0, 0])
      : (() => { const h = Buffer.alloc(14); h[0] = 0x82; h[1] = 0xff; h.writeBigUInt64BE(BigInt(n), 2); return h })()
  return Buffer.concat([head, payload])
}

export const rawConnect = (frame, port, room, onUpdate) => new Promise((resolve, reject) => {
  const url = new URL(frame.url(port, room))
  const sock = net.connect(port, '127.0.0.1')
  sock.setNoDelay(true)
  let buf = Buffer.alloc(0)
  let upgraded = false
  let ready = false
  const client = {
    send: (bytes) => sock.write(clientFrame(bytes)),
    terminate: () => sock.destroy()
  }
  const timer = setTimeout(() => { if (!ready) { sock.destroy(); reject(new Error('sync timeout')) } }, 30000)
  const fail = (err) => { if (!ready) { clearTimeout(timer); ready = true; reject(err) } }
  const onMessage = (payload) => {
    const d = frame.unwrap(payload)
    if (decoding.readVarUint(d) !== 0) return
    const step = decoding.readVarUint(d)
    if (step === 1 && !ready) { ready = true; clearTimeout(timer); resolve(client) }
    if (step === 2 && onUpdate) onUpdate()
  }
  sock.on('connect', () => {
    sock.write(`GET ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  })
  sock.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      if (!/^HTTP\/1\.1 101/.test(buf.subarray(0, end).toString('latin1'))) return fail(new Error('upgrade refused'))
      upgraded = true
      buf = buf.subarray(end + 4)
      for (const m of frame.open(room)) client.send(m)
      client.send(frame.wrap(room, syncStep1))
    }
    let at = 0
    while (buf.length - at >= 2) {
      const opcode = buf[at] & 0x0f
      let len = buf[at + 1] & 0x7f
      let head = 2
      if (len === 126) { if (buf.length - at < 4) break; len = buf.readUInt16BE(at + 2); head = 4 }
      else if (len === 127) { if (buf.length - at < 10) break; len = Number(buf.readBigUInt64BE(at + 2)); head = 10 }
      if (buf.length - at < head + len) break
      const payload = buf.subarray(at + head, at + head + len)
      at += head + len
      if (opcode === 2) onMessage(payload)
      else if (opcode === 9) sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]))
    }
    buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at)
  })
  sock.on('error', fail)
  sock.on('close', () => fail(new Error('closed before sync')))
})
