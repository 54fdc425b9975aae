// Shared pieces of the adversarial suite: real `tandem serve` / `tandem store` / `tandem doc`
// processes (with /proc measurements of memory and CPU), probes that time edits in rooms the
// attack does not touch, raw TCP for what `ws` refuses to send, and hand-made Yjs v1 updates.
//
// Every test prints its measured figures as `FIGURE <defect> <name>=<value>` lines, and asserts
// only after measuring, so a run against an old binary still reports what it did.
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import crypto from 'node:crypto'
import {
  tandemPath, freePort, sleep, waitFor, tempDir, wsClient, synced, destroyAll, rawSocket, signJwt,
  syncStep1Message, updateMessage, parseMessage
} from '../interop/server_harness.mjs'
import { Y, encoding, decoding, WebSocket, awarenessProtocol } from '../interop/adversarial_deps.mjs'

export {
  assert, tandemPath, freePort, sleep, waitFor, tempDir, wsClient, synced, destroyAll, rawSocket,
  signJwt, syncStep1Message, updateMessage, parseMessage, Y, encoding, decoding, WebSocket,
  awarenessProtocol
}

export const LIMIT_CLOSE = 4413
export const SECRET = 'adversarial-store-secret'
// "Other rooms keep answering": the slowest probe edit may take this long (generous for ASan).
export const PROBE_BOUND_MS = Number(process.env.TANDEM_ADV_PROBE_BOUND_MS ?? 3000)

// ---------------------------------------------------------------------------------------------
// Figures

export const figure = (defect, name, value) => {
  const v = typeof value === 'number' ? (Number.isInteger(value) ? value : value.toFixed(2)) : value
  console.log(`FIGURE ${defect} ${name}=${v}`)
}

// Collects failed checks so a test can measure everything first and fail with every reason.
export class Checks {
  constructor (defect) { this.defect = defect; this.failures = [] }
  // `ok` false records "what: measured vs bound".
  check (ok, what) {
    if (!ok) this.failures.push(what)
    console.log(`CHECK ${this.defect} ${ok ? 'ok  ' : 'FAIL'} ${what}`)
    return ok
  }

  atMost (name, measured, bound, unit = '') {
    return this.check(measured <= bound, `${name}: measured ${fmt(measured)}${unit}, bound <= ${fmt(bound)}${unit}`)
  }

  equal (name, measured, expected) {
    return this.check(measured === expected, `${name}: measured ${JSON.stringify(measured)}, expected ${JSON.stringify(expected)}`)
  }

  done () {
    assert.equal(this.failures.length, 0, `${this.defect}: ${this.failures.length} check(s) failed:\n  - ${this.failures.join('\n  - ')}`)
  }
}
const fmt = (x) => typeof x === 'number' && !Number.isInteger(x) ? x.toFixed(1) : String(x)

// ---------------------------------------------------------------------------------------------
// Flags: an old binary lacks the limit flags; they are dropped (and reported) so the attack
// still runs against it, and `missingFlags` lets the test fail on it afterwards.

const helpCache = new Map()
export const supportedFlags = (sub) => {
  if (!helpCache.has(sub)) {
    const out = execFileSync(tandemPath(), [sub, '--help'], { encoding: 'utf8' })
    helpCache.set(sub, new Set(out.match(/--[a-z][a-z0-9-]*/g)))
  }
  return helpCache.get(sub)
}
export const missingFlags = (sub, flags) => flags.filter(f => !supportedFlags(sub).has(f))
const withSupportedFlags = (sub, args) => {
  const known = supportedFlags(sub)
  const out = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a.startsWith('--') && !known.has(a.split('=')[0])) {
      console.log(`NOTE tandem ${sub} has no ${a} (an old binary?): running without it`)
      if (!a.includes('=') && i + 1 < args.length && !args[i + 1].startsWith('--')) i++
      continue
    }
    out.push(a)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Processes

const running = new Set()
process.on('exit', () => { for (const p of running) { try { p.kill('SIGKILL') } catch {} } })

// ASan keeps 256 MB of freed memory in quarantine by default, which would hide or fake memory
// growth; a small quarantine keeps RSS close to live memory. The release build ignores this.
const sanitizerEnv = () => ({
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':')
})

const OUTPUT_KEEP = 4 << 20

// A running `tandem serve` or `tandem store` on 127.0.0.1:<free port> with a fresh data dir.
export class Proc {
  static async start (sub, { args = [], dataDir, env = {}, nofile, logLevel = 'info', port, readyTimeoutMs = 30000 } = {}) {
    const p = new Proc()
    p.sub = sub
    p.port = port ?? await freePort()
    p.dataDir = dataDir ?? tempDir(`tandem-adv-${sub}-`)
    p.outputHead = ''
    p.outputBytes = 0
    p.outputLines = 0
    p.sanitizerReport = ''
    p.acceptMentions = 0 // occurrences of "accept" in the whole output (the kept head is capped)
    const argv = [sub, '--host', '127.0.0.1', '--port', String(p.port), '--data-dir', p.dataDir,
      '--log-level', logLevel, ...withSupportedFlags(sub, args)]
    const [cmd, cmdArgs] = nofile
      ? ['prlimit', [`--nofile=${nofile}:${nofile}`, '--', tandemPath(), ...argv]]
      : [tandemPath(), argv]
    p.proc = spawn(cmd, cmdArgs, { env: { ...process.env, ...sanitizerEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    p.pid = p.proc.pid // prlimit execs the command: same pid
    running.add(p.proc)
    p.exitInfo = null
    p.exited = new Promise(resolve => p.proc.on('exit', (code, signal) => {
      running.delete(p.proc)
      p.exitInfo = { code, signal }
      resolve(p.exitInfo)
    }))
    const collect = (d) => {
      const s = d.toString()
      p.outputBytes += d.length
      for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) p.outputLines++
      if (p.outputHead.length < OUTPUT_KEEP) p.outputHead += s
      p.acceptMentions += (s.match(/accept/gi) ?? []).length
      const san = s.search(/ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer/)
      if (san !== -1 && p.sanitizerReport.length < 20000) p.sanitizerReport += s.slice(san, san + 4000)
    }
    p.proc.stdout.on('data', collect)
    p.proc.stderr.on('data', collect)
    await waitFor(async () => {
      if (p.exitInfo) throw new Error(`tandem ${sub} exited at start (${JSON.stringify(p.exitInfo)}):\n${p.outputHead}`)
      try { return (await fetch(`${p.http}/healthz`, { signal: AbortSignal.timeout(2000) })).ok } catch { return false }
    }, `tandem ${sub} to listen`, readyTimeoutMs)
    return p
  }

  get http () { return `http://127.0.0.1:${this.port}` }
  get ws () { return `ws://127.0.0.1:${this.port}` }
  get output () { return this.outputHead }
  alive () { return this.exitInfo === null }

  // {rssMB, hwmMB, cpuS} of the process now (null once it is gone).
  stats () {
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const kb = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN)
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14, 15)
      return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024, cpuS: ticks / CLK_TCK }
    } catch { return null }
  }

  // Open file descriptors of the process.
  fdCount () {
    try { return fs.readdirSync(`/proc/${this.pid}/fd`).length } catch { return NaN }
  }

  // Answers /healthz within `timeoutMs`?
  async healthy (timeoutMs = 5000) {
    try { return (await fetch(`${this.http}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })).ok } catch { return false }
  }

  // "alive" = still running and no sanitizer report (ASan exits with code 1 on a crash, not a signal).
  describeDeath () {
    if (this.exitInfo) return `exited ${JSON.stringify(this.exitInfo)}${this.sanitizerReport ? ': ' + this.sanitizerReport.split('\n').slice(0, 6).join(' | ') : ''}`
    if (this.sanitizerReport) return `sanitizer report: ${this.sanitizerReport.split('\n').slice(0, 6).join(' | ')}`
    return 'alive'
  }

  // SIGTERM, then SIGKILL after `graceMs`; resolves {code, signal, ms, killed}.
  async stop ({ signal = 'SIGTERM', graceMs = 15000 } = {}) {
    const t0 = Date.now()
    if (this.exitInfo) return { ...this.exitInfo, ms: 0, killed: false, before: true }
    try { this.proc.kill(signal) } catch {}
    let timer
    const r = await Promise.race([this.exited, new Promise(resolve => { timer = setTimeout(() => resolve(null), graceMs) })])
    clearTimeout(timer)
    if (r) return { ...r, ms: Date.now() - t0, killed: false }
    try { this.proc.kill('SIGKILL') } catch {}
    const k = await this.exited
    return { ...k, ms: Date.now() - t0, killed: true }
  }

  cleanup () {
    try { fs.rmSync(this.dataDir, { recursive: true, force: true }) } catch {}
  }
}

let CLK_TCK = 100
try { CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch {}

// Serve with `--durability normal` unless a test says otherwise: no fsync per commit, so a probe's
// latency measures the server, not the shared disk (the attacks are not about durability).
export const startServe = (opts = {}) => {
  const args = opts.args ?? []
  return Proc.start('serve', { ...opts, args: args.includes('--durability') ? args : ['--durability', 'normal', ...args] })
}
export const startStore = (opts = {}) => Proc.start('store', { ...opts, args: ['--secret', SECRET, ...(opts.args ?? [])] })

// Samples the process's RSS every `everyMs` until stopped; `.peakMB` is the highest seen.
export class RssSampler {
  constructor (proc, everyMs = 50) {
    this.peakMB = proc.stats()?.rssMB || 0
    this.timer = setInterval(() => {
      const s = proc.stats()
      if (s && Number.isFinite(s.rssMB)) this.peakMB = Math.max(this.peakMB, s.rssMB)
    }, everyMs)
  }

  stop () { clearInterval(this.timer); return this.peakMB }
}

// `tandem doc …` with a deadline; resolves {code, signal, ms, stdoutBytes, stderr}.
export const runTandem = (args, { timeoutMs = 120000 } = {}) => new Promise((resolve) => {
  const t0 = Date.now()
  const child = spawn(tandemPath(), args, { env: { ...process.env, ...sanitizerEnv() }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let stdoutBytes = 0
  let stderr = ''
  child.stdout.on('data', d => { stdoutBytes += d.length })
  child.stderr.on('data', d => { if (stderr.length < 20000) stderr += d.toString() })
  const timer = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, timeoutMs)
  child.on('exit', (code, signal) => {
    clearTimeout(timer)
    running.delete(child)
    resolve({ code, signal, ms: Date.now() - t0, stdoutBytes, stderr, timedOut: Date.now() - t0 >= timeoutMs })
  })
})

// ---------------------------------------------------------------------------------------------
// Probes: "other rooms keep answering"

// Two y-websocket clients in `room`; `once()` times one edit from a to b.
export class Probe {
  static async start (server, room = `probe-${crypto.randomBytes(4).toString('hex')}`) {
    const p = new Probe()
    p.room = room
    p.a = wsClient(server, room)
    p.b = wsClient(server, room)
    await synced(p.a.provider, `probe ${room} a`)
    await synced(p.b.provider, `probe ${room} b`)
    p.samples = []
    p.seq = 0
    return p
  }

  // Milliseconds until b sees a's edit; `capMs` if it never does (recorded as a timeout).
  once (capMs = 20000) {
    const key = `${process.pid}-${++this.seq}`
    const map = this.b.doc.getMap('probe')
    return new Promise((resolve) => {
      const t0 = performance.now()
      let timer = null
      const done = (ms) => {
        map.unobserve(observer)
        clearTimeout(timer)
        this.samples.push(ms)
        resolve(ms)
      }
      const observer = () => { if (map.get('k') === key) done(performance.now() - t0) }
      map.observe(observer)
      timer = setTimeout(() => done(capMs), capMs)
      this.a.doc.getMap('probe').set('k', key)
    })
  }

  // Probes back to back (every `gapMs`) until `stopLoop()`.
  loop (gapMs = 100, capMs = 20000) {
    this.running = true
    this.loopDone = (async () => {
      while (this.running) {
        await this.once(capMs)
        if (this.running) await sleep(gapMs)
      }
    })()
  }

  async stopLoop () {
    this.running = false
    await this.loopDone
    return this.max()
  }

  max () { return this.samples.length ? Math.max(...this.samples) : NaN }

  destroy () { destroyAll(this.a, this.b) }
}

// ---------------------------------------------------------------------------------------------
// Raw sockets

export const openSocket = async (url, opts) => {
  const r = await rawSocket(url, opts)
  if (!r.opened) throw new Error(`${url}: not opened (closed ${JSON.stringify(r.closed)})`)
  return r
}

// Resolves the close {code, reason} of a raw socket, or null after `timeoutMs`.
export const closeWithin = async (r, timeoutMs) => {
  let timer
  const t = new Promise(resolve => { timer = setTimeout(() => resolve(null), timeoutMs) })
  try { return await Promise.race([r.closedPromise, t]) } finally { clearTimeout(timer) }
}

// A plain TCP connection that speaks raw bytes; `data` accumulates, `closed` resolves on close.
export const tcpConnect = (port) => new Promise((resolve, reject) => {
  const sock = net.connect(port, '127.0.0.1')
  const c = { sock, data: Buffer.alloc(0), ended: false }
  c.closed = new Promise(r => sock.on('close', () => { c.ended = true; r() }))
  sock.on('data', d => { c.data = Buffer.concat([c.data, d]) })
  sock.on('error', () => {})
  sock.once('connect', () => resolve(c))
  sock.once('error', reject)
})

// A masked client frame (RFC 6455 §5.2).
export const wsFrame = (opcode, payload = Buffer.alloc(0), { fin = true } = {}) => {
  payload = Buffer.from(payload)
  const len = payload.length
  const head = [(fin ? 0x80 : 0) | opcode]
  if (len < 126) head.push(0x80 | len)
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff)
  else {
    head.push(0x80 | 127, 0, 0, 0, 0)
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff)
  }
  const mask = crypto.randomBytes(4)
  const body = Buffer.alloc(len)
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3]
  return Buffer.concat([Buffer.from(head), mask, body])
}

// Server frames (unmasked) in `buf`: [{opcode, payload}], stopping at an incomplete one.
export const parseFrames = (buf) => {
  const frames = []
  let i = 0
  while (i + 2 <= buf.length) {
    const opcode = buf[i] & 0x0f
    let len = buf[i + 1] & 0x7f
    let p = i + 2
    if (len === 126) { if (p + 2 > buf.length) break; len = buf.readUInt16BE(p); p += 2 } else if (len === 127) { if (p + 8 > buf.length) break; len = Number(buf.readBigUInt64BE(p)); p += 8 }
    if (p + len > buf.length) break
    frames.push({ opcode, payload: buf.subarray(p, p + len) })
    i = p + len
  }
  return frames
}

// A WebSocket over raw TCP: handshake done, then frames by hand.
export const rawWs = async (port, pathname, extraHeaders = '') => {
  const c = await tcpConnect(port)
  const key = crypto.randomBytes(16).toString('base64')
  c.sock.write(`GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`)
  await waitFor(() => c.data.indexOf('\r\n\r\n') !== -1 || c.ended, 'the WebSocket handshake answer', 10000)
  const end = c.data.indexOf('\r\n\r\n')
  const head = c.data.subarray(0, end).toString()
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head.split('\r\n')[0]}`)
  c.data = c.data.subarray(end + 4)
  c.frames = () => parseFrames(c.data)
  // The close frame the server sent: {code, reason, reasonBytes} or null.
  c.serverClose = () => {
    const f = c.frames().find(fr => fr.opcode === 8)
    if (!f) return null
    return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString(), reasonBytes: f.payload.subarray(2) }
  }
  return c
}

// One raw HTTP exchange: writes `request`, waits for the server to close or `timeoutMs`.
// Resolves {status, head, raw, closed}: status null when nothing came back.
export const rawHttp = async (port, request, { timeoutMs = 5000, then } = {}) => {
  const c = await tcpConnect(port)
  c.sock.write(request)
  if (then) await then(c)
  let timer
  await Promise.race([c.closed, new Promise(resolve => { timer = setTimeout(resolve, timeoutMs) })])
  clearTimeout(timer)
  c.sock.destroy()
  const raw = c.data.toString('latin1')
  const m = raw.match(/^HTTP\/1\.[01] (\d{3})/)
  return { status: m ? Number(m[1]) : null, head: raw.split('\r\n\r\n')[0], raw, closed: c.ended }
}

// ---------------------------------------------------------------------------------------------
// Hand-made Yjs v1 updates (lib0 encoding, yjs's UpdateEncoderV1 layout)

const writeDeleteSet = (e, ds = []) => {
  // ds: [{client, ranges: [[clock, len], …]}]
  encoding.writeVarUint(e, ds.length)
  for (const { client, ranges } of ds) {
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, ranges.length)
    for (const [clock, len] of ranges) { encoding.writeVarUint(e, clock); encoding.writeVarUint(e, len) }
  }
}

// `n` Y.Arrays nested in each other: the first in root key `key`, each next inside the previous
// (ContentType, typeRef 0 = YArray; parent given as the previous item's ID).
// `deleteFirst` adds a delete set removing the outermost array (clock 0).
export const deepNestingUpdate = (n, { client = 1, key = 'a', deleteFirst = false } = {}) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // one client
  encoding.writeVarUint(e, n) // structs
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, 0) // first clock
  for (let i = 0; i < n; i++) {
    encoding.writeUint8(e, 7) // info: ContentType, no origins, no parentSub
    if (i === 0) {
      encoding.writeVarUint(e, 1) // parent is a root key
      encoding.writeVarString(e, key)
    } else {
      encoding.writeVarUint(e, 0) // parent is an item ID
      encoding.writeVarUint(e, client)
      encoding.writeVarUint(e, i - 1)
    }
    encoding.writeVarUint(e, 0) // YArray
  }
  writeDeleteSet(e, deleteFirst ? [{ client, ranges: [[0, 1]] }] : [])
  return encoding.toUint8Array(e)
}

// An update with no structs that deletes [clock, clock+len) of `client`.
export const deleteUpdate = (client, clock, len = 1) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  writeDeleteSet(e, [{ client, ranges: [[clock, len]] }])
  return encoding.toUint8Array(e)
}

// `n` client groups of one GC struct (length 1) each: clients first, first+1, …
export const manyClientsUpdate = (n, { first = 1 } = {}) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, n)
  for (let i = 0; i < n; i++) {
    encoding.writeVarUint(e, 1) // one struct
    encoding.writeVarUint(e, first + i)
    encoding.writeVarUint(e, 0) // clock
    encoding.writeUint8(e, 0) // GC
    encoding.writeVarUint(e, 1) // length
  }
  writeDeleteSet(e)
  return encoding.toUint8Array(e)
}

// One client's ContentString item appended to root Y.Text `key` at `clock`, with `origin`
// ([client, clock] of the item to its left) or none. An origin that does not exist, or a clock
// above the client's state, leaves the struct waiting for its dependency (pending).
export const stringItemUpdate = ({ client, clock, text, key = 'text', origin = null }) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, clock)
  encoding.writeUint8(e, 4 | (origin ? 0x80 : 0)) // ContentString
  if (origin) {
    encoding.writeVarUint(e, origin[0])
    encoding.writeVarUint(e, origin[1])
  } else {
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, key)
  }
  encoding.writeVarString(e, text)
  writeDeleteSet(e)
  return encoding.toUint8Array(e)
}

// A v1 state vector {client: clock}.
export const stateVector = (entries) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const [client, clock] of entries) { encoding.writeVarUint(e, client); encoding.writeVarUint(e, clock) }
  return encoding.toUint8Array(e)
}

// y-protocols awareness message [1, varUint8Array(awarenessUpdate)] setting `states`
// ([{client, clock, state}], state: a JSON value or null).
export const awarenessMessage = (states) => {
  const u = encoding.createEncoder()
  encoding.writeVarUint(u, states.length)
  for (const { client, clock, state } of states) {
    encoding.writeVarUint(u, client)
    encoding.writeVarUint(u, clock)
    encoding.writeVarString(u, JSON.stringify(state))
  }
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(u))
  return encoding.toUint8Array(e)
}

export const queryAwarenessMessage = () => Uint8Array.of(3)

// ---------------------------------------------------------------------------------------------
// Logs

// key=value fields of a log line, logfmt style: a value is a bare word or a "quoted string" with
// backslash escapes. Free text between fields is skipped. Returns [[key, value], …].
export const logFields = (line) => {
  const fields = []
  let i = 0
  while (i < line.length) {
    while (i < line.length && line[i] === ' ') i++
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=/.exec(line.slice(i))
    if (!m) {
      // a free word; a quoted one is skipped whole
      if (line[i] === '"') { i++; while (i < line.length && line[i] !== '"') { if (line[i] === '\\') i++; i++ } i++ } else while (i < line.length && line[i] !== ' ') i++
      continue
    }
    i += m[0].length
    let value = ''
    if (line[i] === '"') {
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) { i++; value += ({ n: '\n', t: '\t', r: '\r' })[line[i]] ?? line[i] } else value += line[i]
        i++
      }
      i++
    } else {
      while (i < line.length && line[i] !== ' ') value += line[i++]
    }
    fields.push([m[1], value])
  }
  return fields
}

// Bytes of every file under `dir`.
export const dirBytes = (dir) => {
  let total = 0
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name)
    if (ent.isDirectory()) total += dirBytes(p)
    else { try { total += fs.statSync(p).size } catch {} }
  }
  return total
}

export const MB = 1024 * 1024
export const mb = (bytes) => bytes / MB

// ---------------------------------------------------------------------------------------------
// Sync round trips on raw sockets

const isStep2 = (m) => { try { const p = parseMessage(m); return p.type === 0 && p.syncType === 1 } catch { return false } }

// Sends sync step 1 (default: empty state vector) on raw socket `r` and waits for the server's
// step 2. Messages are handled in order, so the answer also proves every earlier message of `r`
// was processed. Resolves {ms, bytes} or null (closed or `timeoutMs` passed).
export const syncAnswer = async (r, { timeoutMs = 10000, sv = Uint8Array.of(0) } = {}) => {
  const from = r.messages.length
  const t0 = performance.now()
  if (r.closed) return null
  r.socket.send(syncStep1Message(sv))
  let answer = null
  try {
    await waitFor(() => {
      for (let i = from; i < r.messages.length; i++) if (isStep2(r.messages[i])) { answer = r.messages[i]; return true }
      return r.closed !== null
    }, 'a sync step 2 answer', timeoutMs)
  } catch { return null }
  if (!answer) return null
  return { ms: performance.now() - t0, bytes: parseMessage(answer).payload.length }
}

// A fresh raw connection to `room` that syncs from nothing and leaves: {ok, ms, bytes, closed}.
export const freshJoin = async (server, room, timeoutMs = 15000) => {
  const t0 = performance.now()
  let r
  try { r = await rawSocket(`${server.ws}/${encodeURIComponent(room)}`) } catch (e) { return { ok: false, closed: String(e) } }
  if (!r.opened) return { ok: false, closed: r.closed }
  const a = await syncAnswer(r, { timeoutMs })
  const closed = r.closed
  r.socket.terminate()
  return a ? { ok: true, ms: performance.now() - t0, bytes: a.bytes } : { ok: false, closed, ms: performance.now() - t0 }
}

// A minimal snapshot store (the HTTP contract of docs/STORE.md) in this process: GET answers the
// bytes set in `snapshots` (404 otherwise), POST answers 200 and keeps nothing. Lets a test make
// `tandem serve` load bytes a real store might refuse.
export class StubStore {
  static async start () {
    const http = await import('node:http')
    const s = new StubStore()
    s.snapshots = new Map()
    s.gets = []
    s.server = http.createServer((req, res) => {
      const u = new URL(req.url, 'http://stub')
      const room = u.searchParams.get('roomId')
      const chunks = []
      req.on('data', c => chunks.push(c))
      req.on('end', () => {
        if (req.method === 'GET') {
          s.gets.push(room)
          const b = s.snapshots.get(room)
          if (!b) { res.writeHead(404, { 'Content-Type': 'application/json' }); res.end('{"error":"not_found","message":"none"}'); return }
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'X-Tandem-Version': '1' })
          res.end(Buffer.from(b))
          return
        }
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ version: 1, size: 0, time: Date.now(), checksum: '', merged: false, roomId: room, unchanged: false }))
      })
    })
    s.port = await new Promise(resolve => s.server.listen(0, '127.0.0.1', () => resolve(s.server.address().port)))
    return s
  }

  get url () { return `http://127.0.0.1:${this.port}` }
  close () { this.server.closeAllConnections?.(); return new Promise(resolve => this.server.close(resolve)) }
}

// The real store's snapshot routes.
export const storeUrl = (store, room, extra = '') => `${store.http}/collaboration/snapshot${extra}?roomId=${encodeURIComponent(room)}`
export const storePost = async (store, room, bytes, { auth = `Bearer ${SECRET}`, timeoutMs = 60000 } = {}) => {
  const r = await fetch(storeUrl(store, room), {
    method: 'POST', body: bytes, headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' }, signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await r.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text }
}
export const storeGet = async (store, room, { auth = `Bearer ${SECRET}`, timeoutMs = 30000 } = {}) => {
  const r = await fetch(storeUrl(store, room), { headers: { Authorization: auth }, signal: AbortSignal.timeout(timeoutMs) })
  return { status: r.status, bytes: new Uint8Array(await r.arrayBuffer()) }
}

// `chains` chains of `depth` Y.Arrays (client 1): chain k's first array in root Y.Map `m` under
// key `c<k>`, each next one inside the previous. Type t (0-based over all chains) has clock t.
export const nestedChainsUpdate = (chains, depth, { client = 1 } = {}) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, chains * depth)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, 0)
  for (let k = 0; k < chains; k++) {
    for (let j = 0; j < depth; j++) {
      const clock = k * depth + j
      if (j === 0) {
        encoding.writeUint8(e, 7 | 0x20) // ContentType with a parentSub
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'm')
        encoding.writeVarString(e, `c${k}`)
      } else {
        encoding.writeUint8(e, 7)
        encoding.writeVarUint(e, 0)
        encoding.writeVarUint(e, client)
        encoding.writeVarUint(e, clock - 1)
      }
      encoding.writeVarUint(e, 0) // YArray
    }
  }
  writeDeleteSet(e)
  return encoding.toUint8Array(e)
}

// One ContentString item ("x") inside each of the types (typeClient, 0..count-1), from `client`.
export const childInEachUpdate = (count, { typeClient = 1, client = 2 } = {}) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, count)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, 0)
  for (let t = 0; t < count; t++) {
    encoding.writeUint8(e, 4) // ContentString, no origins
    encoding.writeVarUint(e, 0) // parent: an item ID
    encoding.writeVarUint(e, typeClient)
    encoding.writeVarUint(e, t)
    encoding.writeVarString(e, 'x')
  }
  writeDeleteSet(e)
  return encoding.toUint8Array(e)
}
