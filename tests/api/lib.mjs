// Shared pieces of the document API and webhook tests (issue #21): a real `tandem serve` with
// `--api-secret`, raw HTTP requests to /api/v1/, a webhook receiver that verifies every delivery
// with the npm `standardwebhooks` package, and /metrics readings.
//
// Node packages live in tests/interop/node_modules; bare imports resolve from the importing
// file's folder, so they come through ../interop/ (yjs and friends) or createRequire (CJS).
import assert from 'node:assert/strict'
import http from 'node:http'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import {
  Proc, startStore, supportedFlags, freePort, sleep, waitFor, tempDir, wsClient, synced, destroyAll,
  rawSocket, SECRET as STORE_SECRET, storeGet, Y, WebSocket, signJwt
} from '../adversarial/lib.mjs'

const require = createRequire(new URL('../interop/package.json', import.meta.url))
export const { Webhook } = require('standardwebhooks')

export {
  assert, Proc, startStore, freePort, sleep, waitFor, tempDir, wsClient, synced, destroyAll, rawSocket,
  STORE_SECRET, storeGet, Y, WebSocket, signJwt
}

export const API_SECRET = 'api-secret-for-tests/+=~'

// ---------------------------------------------------------------------------------------------
// Figures (printed for ctest -V) and base64

export const figure = (what, name, value) => {
  const v = typeof value === 'number' ? (Number.isInteger(value) ? value : value.toFixed(2)) : value
  console.log(`FIGURE ${what} ${name}=${v}`)
}

export const b64 = (bytes) => Buffer.from(bytes.buffer ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes).toString('base64')
export const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))
export const hex = (bytes) => Buffer.from(bytes).toString('hex')
export const sameBytes = (a, b) => Buffer.from(a).equals(Buffer.from(b))
export const svMap = (sv) => Object.fromEntries(Array.from(Y.decodeStateVector(sv)).sort(([a], [b]) => a - b))

// ---------------------------------------------------------------------------------------------
// Servers

// The flags a feature needs; a binary without them fails the test at once with a clear reason
// (rather than the adversarial suite's "run without it").
export const requireFlags = (flags) => {
  const known = supportedFlags('serve')
  const missing = flags.filter(f => !known.has(f))
  if (missing.length) throw new Error(`tandem serve has no ${missing.join(', ')}: the binary predates issue #21`)
}

const live = new Set()
process.on('exit', () => { for (const s of live) { try { s.proc.kill('SIGKILL') } catch {} } })

// `tandem serve` with the document API on (unless `apiSecret: null`), `--auth none`,
// `--durability normal` (survives kill -9, no fsync per commit), a fresh data dir unless given.
export const startApiServer = async ({ args = [], apiSecret = API_SECRET, dataDir, port, env = {}, logLevel = 'warn' } = {}) => {
  const flags = args.filter(a => a.startsWith('--'))
  requireFlags(apiSecret === null ? flags : ['--api-secret', ...flags])
  const all = [...(args.includes('--auth') ? [] : ['--auth', 'none']), ...(args.includes('--durability') ? [] : ['--durability', 'normal']),
    ...(apiSecret === null ? [] : ['--api-secret', apiSecret]), ...args]
  const s = await Proc.start('serve', { args: all, dataDir, port, env, logLevel })
  s.apiSecret = apiSecret
  live.add(s)
  s.exited.then(() => live.delete(s))
  await waitFor(async () => {
    try { return (await fetch(`${s.http}/readyz`, { signal: AbortSignal.timeout(2000) })).ok } catch { return false }
  }, 'tandem serve to be ready', 20000)
  return s
}


// ---------------------------------------------------------------------------------------------
// HTTP

// One HTTP request with node:http (paths go out byte for byte, unlike fetch's URL parsing).
// Resolves {status, headers, bytes, text, json} (json null when the body is not JSON).
export const request = (port, method, path, { headers = {}, body, timeoutMs = 30000 } = {}) => new Promise((resolve, reject) => {
  const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: timeoutMs }, (res) => {
    const chunks = []
    res.on('data', c => chunks.push(c))
    res.on('end', () => {
      const buf = Buffer.concat(chunks)
      const text = buf.toString('utf8')
      let json = null
      try { json = JSON.parse(text) } catch {}
      resolve({ status: res.statusCode, headers: res.headers, bytes: new Uint8Array(buf), text, json })
    })
    res.on('error', reject)
  })
  req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)))
  req.on('error', reject)
  if (body !== undefined) req.end(typeof body === 'string' ? body : Buffer.from(body))
  else req.end()
})

export const roomPath = (room, suffix = '') => `/api/v1/rooms/${encodeURIComponent(room)}${suffix}`

// An /api/v1 request as the app backend makes it (Bearer secret of `server`).
export const api = (server, method, path, { headers = {}, body, auth = true, timeoutMs } = {}) => {
  const h = { ...headers }
  if (auth && server.apiSecret) h.Authorization = `Bearer ${server.apiSecret}`
  return request(server.port, method, path, { headers: h, body, timeoutMs })
}

// "got 500 {…}" for assertion messages.
export const show = (r) => `${r.status} ${r.text.length > 300 ? r.text.slice(0, 300) + '…' : r.text}`

// Asserts an error answer: status, JSON {error: code, message: non-empty string}.
export const assertError = (r, status, code, what) => {
  assert.equal(r.status, status, `${what}: expected ${status} ${code}, got ${show(r)}`)
  assert.ok(r.json && typeof r.json === 'object', `${what}: error body is not JSON: ${show(r)}`)
  assert.equal(r.json.error, code, `${what}: expected error "${code}", got ${show(r)}`)
  assert.equal(typeof r.json.message, 'string', `${what}: no message: ${show(r)}`)
  assert.ok(r.json.message.length > 0, `${what}: empty message`)
  assert.match(String(r.headers['content-type']), /application\/json/, `${what}: content-type ${r.headers['content-type']}`)
}

const okJson = (r, what) => {
  assert.equal(r.status, 200, `${what}: ${show(r)}`)
  assert.ok(r.json !== null, `${what}: not JSON: ${show(r)}`)
  return r.json
}

// The document endpoints, asserting 200.
export const getJson = async (server, room) => okJson(await api(server, 'GET', roomPath(room)), `GET ${room}`)
export const getState = async (server, room, { v2 = false, since } = {}) => {
  const q = [v2 ? 'v=2' : null, since ? `since=${encodeURIComponent(b64(since))}` : null].filter(Boolean).join('&')
  const r = await api(server, 'GET', roomPath(room) + (q ? `?${q}` : ''), { headers: { Accept: 'application/octet-stream' } })
  assert.equal(r.status, 200, `GET ${room} ${q} as octet-stream: ${show(r)}`)
  assert.match(String(r.headers['content-type']), /application\/octet-stream/, `GET ${room} ${q}: content-type`)
  return r.bytes
}
export const getStateVector = async (server, room) => {
  const j = okJson(await api(server, 'GET', roomPath(room, '/state-vector')), `GET ${room}/state-vector`)
  assert.equal(typeof j.stateVector, 'string', `state-vector answer ${JSON.stringify(j)}`)
  return unb64(j.stateVector)
}
export const postUpdate = async (server, room, update, { v2 = false, timeoutMs } = {}) => {
  const headers = { 'Content-Type': 'application/octet-stream' }
  if (v2) headers['X-Update-Format'] = 'v2'
  return api(server, 'POST', roomPath(room, '/update'), { headers, body: update, timeoutMs })
}
export const postUpdateOk = async (server, room, update, opts) => {
  const r = await postUpdate(server, room, update, opts)
  const j = okJson(r, `POST ${room}/update`)
  assert.equal(typeof j.stateVector, 'string', `update answer ${JSON.stringify(j)}`)
  return unb64(j.stateVector)
}
export const postEdit = (server, room, edits, { raw } = {}) =>
  api(server, 'POST', roomPath(room, '/edit'), { headers: { 'Content-Type': 'application/json' }, body: raw ?? JSON.stringify(edits) })
export const postEditOk = async (server, room, edits) => {
  const r = await postEdit(server, room, edits)
  const j = okJson(r, `POST ${room}/edit ${JSON.stringify(edits).slice(0, 300)}`)
  assert.equal(typeof j.stateVector, 'string')
  assert.equal(typeof j.update, 'string')
  assert.equal(typeof j.clientId, 'number')
  return j
}

// ---------------------------------------------------------------------------------------------
// Documents

// The document with yjs: a doc holding `state` (v1), with `names` roots defined by kind.
export const docFrom = (state, { v2 = false } = {}) => {
  const doc = new Y.Doc()
  if (state && state.length) (v2 ? Y.applyUpdateV2 : Y.applyUpdate)(doc, state)
  return doc
}

// ---------------------------------------------------------------------------------------------
// Metrics

// Sum of every sample of `name` (any labels) in Prometheus text; NaN when absent.
export const metricValue = (text, name) => {
  let sum = NaN
  const re = new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)`, 'gm')
  for (const m of text.matchAll(re)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[2])
  return sum
}
export const metrics = async (server) => (await fetch(`${server.http}/metrics`, { signal: AbortSignal.timeout(10000) })).text()
export const metric = async (server, name) => metricValue(await metrics(server), name)

// ---------------------------------------------------------------------------------------------
// Webhooks

export const webhookSecret = () => `whsec_${crypto.randomBytes(24).toString('base64')}`

// Flags for webhooks to `receivers` with short intervals (overridable).
export const webhookArgs = (receivers, secret, o = {}) => {
  const args = []
  for (const r of [].concat(receivers)) args.push('--webhook-url', typeof r === 'string' ? r : r.url)
  args.push('--webhook-secret', secret,
    '--webhook-change-quiet', o.quiet ?? '200ms', '--webhook-change-max', o.max ?? '1s',
    '--webhook-retry-for', o.retryFor ?? '5m', '--webhook-max-backoff', o.maxBackoff ?? '300ms',
    '--webhook-timeout', o.timeout ?? '2s')
  return args
}

// A receiver: POSTs are verified with `new Webhook(secret).verify(body, headers)`; every
// request is recorded, and `mode` picks the answer: 'ok' (204), a status number (503, 410, …),
// 'slow' (204 after `slowMs`). `refuse()` closes the port (connections refused) and `accept()`
// opens it again on the same port.
export class Receiver {
  static async start (secret, { mode = 'ok', slowMs = 3000, path = '/hook' } = {}) {
    const r = new Receiver()
    r.secret = secret
    r.wh = new Webhook(secret)
    r.mode = mode
    r.slowMs = slowMs
    r.path = path
    r.requests = [] // every request: {id, timestamp, signature, body, at, status, verified, error}
    r.badSignatures = [] // verification failures
    r.waiters = new Set()
    r.sockets = new Set()
    r.port = 0
    await r.listen()
    return r
  }

  async listen () {
    this.server = http.createServer((req, res) => this.handle(req, res))
    this.server.on('connection', s => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)) })
    await new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, '127.0.0.1', resolve)
    })
    this.port = this.server.address().port
    this.listening = true
  }

  get url () { return `http://127.0.0.1:${this.port}${this.path}` }

  handle (req, res) {
    const chunks = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const rec = {
        method: req.method,
        url: req.url,
        id: req.headers['webhook-id'],
        timestamp: req.headers['webhook-timestamp'],
        signature: req.headers['webhook-signature'],
        contentType: req.headers['content-type'],
        body,
        at: performance.now(),
        wall: Date.now(),
        status: null,
        event: null,
        verified: false
      }
      try {
        rec.event = this.wh.verify(body, req.headers)
        rec.verified = true
      } catch (e) {
        rec.error = String(e.message ?? e)
        this.badSignatures.push(rec)
      }
      this.requests.push(rec)
      const mode = this.mode
      const answer = (status) => {
        rec.status = status
        if (!res.writableEnded) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? '' : 'no')
        for (const w of this.waiters) w()
      }
      if (mode === 'slow') setTimeout(() => answer(204), this.slowMs)
      else if (typeof mode === 'number') answer(mode)
      else answer(204)
    })
  }

  // Requests answered 2xx and verified: the delivered events, in arrival order.
  get delivered () { return this.requests.filter(r => r.verified && r.status >= 200 && r.status < 300) }
  events (type) { return this.delivered.filter(r => !type || r.event?.type === type) }

  // Resolves once `check()` holds (re-checked after every request), or throws after `timeoutMs`.
  async until (check, what, timeoutMs = 15000) {
    if (check()) return
    let done
    const p = new Promise(resolve => { done = resolve })
    const w = () => { if (check()) done() }
    this.waiters.add(w)
    let timer
    try {
      await Promise.race([p, new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs) })])
    } finally {
      clearTimeout(timer)
      this.waiters.delete(w)
    }
  }

  async refuse () {
    if (!this.listening) return
    this.listening = false
    const closed = new Promise(resolve => this.server.close(resolve))
    for (const s of this.sockets) s.destroy()
    await closed
  }

  async accept () {
    if (this.listening) return
    await this.listen()
  }

  async close () { await this.refuse() }
}

// The checks every delivered event must pass: JSON {type, timestamp (ISO 8601), data}, and a
// webhook-timestamp near the event's time.
export const assertEnvelope = (rec) => {
  const e = rec.event
  assert.ok(e && typeof e === 'object', `event body not an object: ${rec.body}`)
  assert.equal(typeof e.type, 'string', `event type: ${rec.body}`)
  assert.equal(typeof e.timestamp, 'string', `event timestamp: ${rec.body}`)
  assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, `ISO 8601 timestamp: ${rec.body}`)
  assert.ok(Number.isFinite(Date.parse(e.timestamp)), `timestamp parses: ${rec.body}`)
  assert.ok(e.data && typeof e.data === 'object', `event data: ${rec.body}`)
  assert.match(String(rec.timestamp), /^\d+$/, `webhook-timestamp header: ${rec.timestamp}`)
  assert.ok(Math.abs(Number(rec.timestamp) - rec.wall / 1000) < 600, `webhook-timestamp ${rec.timestamp} far from now`)
  assert.match(String(rec.signature), /(^| )v1,[A-Za-z0-9+/]+=*( |$)/, `webhook-signature header: ${rec.signature}`)
  assert.equal(rec.method, 'POST')
  assert.match(String(rec.contentType), /application\/json/, `content-type: ${rec.contentType}`)
}

// Two y-websocket clients in `room`; resolves when both synced.
export const pair = async (server, room) => {
  const a = wsClient(server, room)
  const b = wsClient(server, room)
  await synced(a.provider, `${room} a`)
  await synced(b.provider, `${room} b`)
  return [a, b]
}

export const randomRoom = (prefix) => `${prefix}-${crypto.randomBytes(4).toString('hex')}`

export const percentile = (xs, p) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}
