// Starts real `tandem serve` processes for tests and benchmarks, and talks to them the way
// clients do: stock providers (y-websocket, y-partykit) and raw WebSockets for what providers
// never send (malformed frames, oversized messages).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import YPartyKitProvider from 'y-partykit/provider'

export const tandemPath = () => {
  const p = process.env.TANDEM_TANDEM
  if (!p) throw new Error('TANDEM_TANDEM is not set: run this test through ctest')
  return p
}

export const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer()
  srv.on('error', reject)
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address()
    srv.close(() => resolve(port))
  })
})

export const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

// Polls `check` until it returns true; throws with `what` after `timeoutMs`.
export const waitFor = async (check, what, timeoutMs = 10000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(20)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const tempDir = (prefix = 'tandem-test-') => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

// A running `tandem serve`. `args` are extra flags; the data dir is a fresh temp folder unless
// `dataDir` is given (to restart on the same storage).
export class TandemServer {
  static async start ({ args = [], dataDir, env = {}, port } = {}) {
    const s = new TandemServer()
    s.port = port ?? await freePort()
    s.dataDir = dataDir ?? tempDir()
    s.output = ''
    s.proc = spawn(tandemPath(), ['serve', '--host', '127.0.0.1', '--port', String(s.port),
      '--data-dir', s.dataDir, '--log-level', 'warn', ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    s.exited = new Promise(resolve => s.proc.on('exit', (code, signal) => resolve({ code, signal })))
    const collect = (d) => { s.output += d.toString() }
    s.proc.stdout.on('data', collect)
    s.proc.stderr.on('data', collect)
    let exitedEarly = false
    s.exited.then(() => { exitedEarly = true })
    await waitFor(async () => {
      if (exitedEarly) throw new Error(`tandem serve exited at start:\n${s.output}`)
      try { return (await fetch(`${s.http}/healthz`)).ok } catch { return false }
    }, 'tandem serve to listen', 20000)
    return s
  }

  get http () { return `http://127.0.0.1:${this.port}` }
  get ws () { return `ws://127.0.0.1:${this.port}` }

  async metrics () { return (await fetch(`${this.http}/metrics`)).text() }

  async stop (signal = 'SIGTERM') {
    if (this.proc.exitCode !== null && this.proc.exitCode !== 0) process.stderr.write(`tandem serve exited with ${this.proc.exitCode}:\n${this.output}\n`)
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal)
    return this.exited
  }
}

// Providers do not destroy the Awareness they made (its 3 s interval would keep the test
// process alive): destroying a test provider does.
const ownAwareness = (provider) => {
  const destroy = provider.destroy.bind(provider)
  provider.destroy = () => { destroy(); provider.awareness.destroy() }
  return provider
}

// A y-websocket provider with its own doc, connected to room `room` of `server`.
export const wsClient = (server, room, { params, doc = new Y.Doc(), connect = true } = {}) => {
  const provider = ownAwareness(new WebsocketProvider(server.ws, room, doc,
    { WebSocketPolyfill: WebSocket, params, connect, disableBc: true, resyncInterval: -1 }))
  return { doc, provider }
}

// A y-partykit provider (connects to /parties/{party}/{room}).
export const partyClient = (server, room, { party = 'main', params, doc = new Y.Doc() } = {}) => {
  const provider = ownAwareness(new YPartyKitProvider(`127.0.0.1:${server.port}`, room, doc,
    { WebSocketPolyfill: WebSocket, party, params, disableBc: true, resyncInterval: -1 }))
  return { doc, provider }
}

export const synced = (provider, what = 'provider sync') =>
  waitFor(() => provider.synced, what)

// Destroys the providers and their docs (a doc's awareness keeps a timer until it is destroyed,
// which would keep the test process alive).
export const destroyAll = (...clients) => {
  for (const c of clients) {
    c.provider.destroy()
    c.doc.destroy()
  }
}

// Opens a raw WebSocket; resolves once open or closed, with the close code and reason recorded.
export const rawSocket = (url, { headers } = {}) => new Promise((resolve) => {
  const socket = new WebSocket(url, { headers })
  socket.binaryType = 'nodebuffer'
  const r = { socket, messages: [], closed: null, opened: false }
  r.closedPromise = new Promise(resolveClose => {
    socket.on('close', (code, reason) => {
      r.closed = { code, reason: reason.toString() }
      resolveClose(r.closed)
      resolve(r)
    })
  })
  socket.on('message', (data) => r.messages.push(new Uint8Array(data)))
  socket.on('open', () => { r.opened = true; resolve(r) })
  socket.on('error', () => {})
})

// Waits for a raw socket's close and returns {code, reason}.
export const closeOf = async (url, opts) => {
  const r = await rawSocket(url, opts)
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${url} was not closed`)), 10000)
  })
  try { return await Promise.race([r.closedPromise, timeout]) } finally { clearTimeout(timer) }
}

// HS256 JWT, as an app backend would sign it.
export const signJwt = (secret, claims) => {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`
  const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url')
  return `${body}.${sig}`
}

// The JSON of every shared type a test uses, to compare docs.
export const docJson = (doc) => ({
  text: doc.getText('text').toString(),
  map: doc.getMap('map').toJSON(),
  array: doc.getArray('array').toJSON()
})

// Deep equality that ignores object key order (map key order differs between peers).
export const sameJson = (a, b) => {
  try { assert.deepStrictEqual(a, b); return true } catch { return false }
}

// The document as the server holds it: a fresh client joins, syncs, and leaves.
export const serverDocJson = async (server, room) => {
  const c = wsClient(server, room)
  await synced(c.provider, `a fresh join of ${room}`)
  const json = docJson(c.doc)
  destroyAll(c)
  return json
}

// y-protocols sync messages for raw sockets.
export const syncStep1Message = (sv) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint8Array(e, sv)
  return encoding.toUint8Array(e)
}
export const updateMessage = (update) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}
// {type, syncType, payload} of a server message (sync messages only; others: {type}).
export const parseMessage = (m) => {
  const d = decoding.createDecoder(m)
  const type = decoding.readVarUint(d)
  if (type !== 0) return { type }
  const syncType = decoding.readVarUint(d)
  return { type, syncType, payload: decoding.readVarUint8Array(d) }
}
