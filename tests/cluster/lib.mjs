// Cluster mode end-to-end tests (issue #19, docs/CLUSTER.md): a real `redis-server` (AOF on,
// fsync always, in a temp dir), PostgreSQL and `tandem store --database`, three `tandem serve
// --redis` nodes on 127.0.0.1 with short timings, and stock y-websocket providers pinned to a
// node that reconnect to another live node when their connection closes.
//
// Every scenario ends with `checkRooms`: each client's document, a fresh join on every live node,
// and the store's snapshot plus the stream's remaining entries are equal, and every update a
// client ever sent or received is contained in that state.
//
// Node packages live in tests/interop/node_modules; they come through ../interop/ and the
// shared pieces of ../adversarial/lib.mjs (Proc, freePort, waitFor, tempDir, …) are reused.
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {
  Proc, supportedFlags, freePort, sleep, waitFor, tempDir, figure as figureOf, tandemPath
} from '../adversarial/lib.mjs'
import { Y, WebSocket, WebsocketProvider } from '../interop/adversarial_deps.mjs'
import { docJson } from '../interop/server_harness.mjs'

export { assert, Y, sleep, waitFor, tempDir, freePort, docJson }

export const SNAPSHOT_SECRET = 'cluster-store-secret'
export const LOG_LEVEL = process.env.TANDEM_CLUSTER_LOG_LEVEL ?? 'info'

// `FIGURE cluster name=value` (ctest -V).
export const figure = (name, value) => figureOf('cluster', name, value)

// Short timings: saves every 2 s, 1 s after the last leave, leases of 2 s, trims of entries older
// than 1 s, a node is dead 1.5 s after its last heartbeat, due saves swept every 100 ms.
export const TIMINGS = {
  '--save-interval': '2s',
  '--disconnect-debounce': '1s',
  '--lease-ttl': '2s',
  '--trim-min-age': '1s',
  '--node-ttl': '1500ms',
  '--save-sweep-interval': '100ms',
  '--room-idle-unload': '2s'
}

// ---------------------------------------------------------------------------------------------
// Child processes other than tandem serve (redis-server, postgres, tandem store, haproxy)

const children = new Set()
const scratchDirs = new Set() // removed on exit if a test did not get to it
process.on('exit', () => {
  for (const c of children) { try { c.proc.kill(c.exitSignal ?? 'SIGKILL') } catch {} }
  for (const d of scratchDirs) { try { fs.rmSync(d, { recursive: true, force: true }) } catch {} }
})
const scratchDir = (prefix) => { const d = tempDir(prefix); scratchDirs.add(d); return d }
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)))
// Each provider adds a process 'exit' listener (y-websocket); dozens of clients are normal here.
process.setMaxListeners(0)
// A test that hangs past its node:test timeout would keep the process (and redis-server, postgres,
// the nodes) alive until ctest kills it with no chance to clean up: exit first (the 'exit'
// handlers stop every child). Below the ctest TIMEOUT of tests/cluster/CMakeLists.txt.
const WATCHDOG_MS = Number(process.env.TANDEM_CLUSTER_WATCHDOG_MS ?? 280000)
setTimeout(() => {
  console.log(`WATCHDOG the test process ran ${WATCHDOG_MS} ms: exiting (children are killed)`)
  process.exit(1)
}, WATCHDOG_MS).unref()

const OUTPUT_KEEP = 2 << 20

export class Child {
  static start (cmd, args, { env = {}, name = path.basename(cmd), exitSignal = 'SIGKILL' } = {}) {
    const c = new Child()
    c.name = name
    c.cmd = cmd
    c.args = args
    c.output = ''
    c.exitSignal = exitSignal
    c.proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    c.pid = c.proc.pid
    c.exitInfo = null
    children.add(c)
    c.exited = new Promise(resolve => c.proc.on('exit', (code, signal) => {
      children.delete(c)
      c.exitInfo = { code, signal }
      resolve(c.exitInfo)
    }))
    const collect = (d) => { if (c.output.length < OUTPUT_KEEP) c.output += d.toString() }
    c.proc.stdout.on('data', collect)
    c.proc.stderr.on('data', collect)
    c.proc.on('error', (e) => { c.output += `spawn error: ${e.message}\n` })
    return c
  }

  alive () { return this.exitInfo === null }
  kill (signal = 'SIGKILL') { try { this.proc.kill(signal) } catch {} }
  async stop (signal = 'SIGTERM', graceMs = 10000) {
    if (!this.alive()) return this.exitInfo
    this.kill(signal)
    let timer
    const r = await Promise.race([this.exited, new Promise(resolve => { timer = setTimeout(() => resolve(null), graceMs) })])
    clearTimeout(timer)
    if (r) return r
    this.kill('SIGKILL')
    return this.exited
  }

  tail (n = 3000) { return this.output.slice(-n) }
}

// ---------------------------------------------------------------------------------------------
// A tiny RESP2 client over net.Socket (for the test's own look-ups: INFO, XRANGE, GET, …).
// Bulk strings come back as Buffers (binary-safe), arrays as arrays, errors reject.

const INCOMPLETE = Symbol('incomplete')

const parseReply = (buf, pos) => {
  if (pos >= buf.length) return [INCOMPLETE, pos]
  const end = buf.indexOf('\r\n', pos)
  if (end === -1) return [INCOMPLETE, pos]
  const type = String.fromCharCode(buf[pos])
  const line = buf.toString('latin1', pos + 1, end)
  const next = end + 2
  switch (type) {
    case '+': return [line, next]
    case '-': { const e = new Error(line); e.redis = true; return [e, next] }
    case ':': return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return [INCOMPLETE, pos]
      return [Buffer.from(buf.subarray(next, next + len)), next + len + 2]
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return [null, next]
      const out = []
      let p = next
      for (let i = 0; i < n; i++) {
        const [v, q] = parseReply(buf, p)
        if (v === INCOMPLETE) return [INCOMPLETE, pos]
        out.push(v)
        p = q
      }
      return [out, p]
    }
    default: throw new Error(`RESP: unexpected type byte ${buf[pos]}`)
  }
}

const encodeCommand = (args) => {
  const parts = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

export class Resp {
  constructor (port) { this.port = port; this.sock = null; this.pending = []; this.buf = Buffer.alloc(0) }

  connect () {
    if (this.connecting) return this.connecting
    this.connecting = new Promise((resolve, reject) => {
      const sock = net.connect(this.port, '127.0.0.1')
      sock.setNoDelay(true)
      sock.once('connect', () => { this.sock = sock; resolve() })
      sock.once('error', (e) => { this.connecting = null; reject(e) })
      sock.on('data', (d) => this.onData(d))
      sock.on('close', () => {
        this.sock = null
        this.connecting = null
        this.buf = Buffer.alloc(0)
        const p = this.pending
        this.pending = []
        for (const { reject: rej } of p) rej(new Error('redis connection closed'))
      })
    })
    return this.connecting
  }

  onData (d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
    let pos = 0
    while (this.pending.length) {
      const [v, next] = parseReply(this.buf, pos)
      if (v === INCOMPLETE) break
      pos = next
      const { resolve, reject } = this.pending.shift()
      if (v instanceof Error) reject(v)
      else resolve(v)
    }
    this.buf = this.buf.subarray(pos)
  }

  async call (...args) {
    if (!this.sock) await this.connect()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis ${args[0]}: no answer in 10 s`)), 10000)
      this.pending.push({ resolve: (v) => { clearTimeout(timer); resolve(v) }, reject: (e) => { clearTimeout(timer); reject(e) } })
      this.sock.write(encodeCommand(args))
    })
  }

  close () { try { this.sock?.destroy() } catch {} this.sock = null }
}

// "k:v" lines of an INFO answer (or one section) as an object.
export const parseInfo = (text) => {
  const out = {}
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

// calls= of every cmdstat_* line: {xadd: 12, evalsha: 40, …}
export const commandCalls = (info) => {
  const out = {}
  for (const [k, v] of Object.entries(parseInfo(info))) {
    if (!k.startsWith('cmdstat_')) continue
    const m = /calls=(\d+)/.exec(v)
    if (m) out[k.slice(8)] = Number(m[1])
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// redis-server, in a temp dir, with the settings docs/CLUSTER.md requires.

export class Redis {
  static async start ({ dir, port } = {}) {
    const r = new Redis()
    r.dir = dir ?? scratchDir('tandem-cluster-redis-')
    r.port = port ?? await freePort()
    r.client = new Resp(r.port)
    await r.spawn()
    return r
  }

  get url () { return `redis://127.0.0.1:${this.port}` }

  args () {
    return ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction',
      '--protected-mode', 'no', '--daemonize', 'no', '--logfile', '', '--loglevel', 'notice']
  }

  async spawn () {
    this.proc = Child.start('/usr/bin/redis-server', this.args(), { name: 'redis-server' })
    await waitFor(async () => {
      if (!this.proc.alive()) throw new Error(`redis-server exited at start: ${JSON.stringify(this.proc.exitInfo)}\n${this.proc.tail()}`)
      try { return String(await this.client.call('PING')) === 'PONG' } catch { return false }
    }, 'redis-server to answer PING', 20000)
  }

  call (...args) { return this.client.call(...args) }
  async str (...args) { const v = await this.call(...args); return v === null ? null : v.toString() }

  // kill -9 (no shutdown, no final AOF rewrite)
  async kill9 () {
    this.proc.kill('SIGKILL')
    await this.proc.exited
    this.client.close()
  }

  // Same arguments, same dir: the data comes back from the AOF.
  async restart () { await this.spawn() }

  async stop () {
    this.client.close()
    if (this.proc.alive()) await this.proc.stop('SIGTERM', 5000)
  }

  cleanup () { try { fs.rmSync(this.dir, { recursive: true, force: true }) } catch {} }

  async info (section) { return (await this.call('INFO', ...(section ? [section] : []))).toString() }
  async commandCalls () { return commandCalls(await this.info('commandstats')) }
}

// Redis keys of docs/CLUSTER.md
export const keys = {
  log: (room) => `tandem:{${room}}:log`,
  meta: (room) => `tandem:{${room}}:meta`,
  lease: (room) => `tandem:{${room}}:lease`,
  conns: (room) => `tandem:{${room}}:conns`,
  node: (id) => `tandem:node:${id}`,
  due: 'tandem:due'
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL in a temp dir (as bench/run and src/store/test_postgres.cc do): initdb, then the
// postmaster as our child (setpriv to the postgres user when we are root), fsync off.

const pgBin = () => {
  let best = ''
  try {
    for (const v of fs.readdirSync('/usr/lib/postgresql')) {
      const bin = `/usr/lib/postgresql/${v}/bin`
      if (fs.existsSync(`${bin}/initdb`) && fs.existsSync(`${bin}/postgres`) && (best === '' || Number(v) > Number(best.split('/')[4]))) best = bin
    }
  } catch {}
  if (!best) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql')
  return best
}

export class Postgres {
  static async start () {
    const pg = new Postgres()
    pg.bin = pgBin()
    pg.dir = scratchDir('tandem-cluster-pg-')
    fs.chmodSync(pg.dir, 0o755)
    pg.asUser = []
    if (process.getuid() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      fs.chownSync(pg.dir, uid, gid)
      pg.asUser = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--']
    }
    const run = (cmd, args) => {
      const all = [...pg.asUser, cmd, ...args]
      return execFileSync(all[0], all.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: pg.dir } })
    }
    run(`${pg.bin}/initdb`, ['-D', `${pg.dir}/data`, '-A', 'trust', '-U', 'tandem', '--no-sync'])
    for (let attempt = 0; attempt < 3; attempt++) {
      pg.port = await freePort()
      const all = [...pg.asUser, `${pg.bin}/postgres`, '-D', `${pg.dir}/data`, '-p', String(pg.port), '-k', pg.dir,
        '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=100']
      pg.proc = Child.start(all[0], all.slice(1), { name: 'postgres', exitSignal: 'SIGQUIT', env: { HOME: pg.dir } })
      try {
        await waitFor(() => {
          if (!pg.proc.alive()) return true
          try { execFileSync(`${pg.bin}/pg_isready`, ['-h', '127.0.0.1', '-p', String(pg.port), '-q']); return true } catch { return false }
        }, 'postgres to accept connections', 30000)
      } catch {}
      if (pg.proc.alive()) return pg
    }
    throw new Error(`postgres did not start:\n${pg.proc.tail()}`)
  }

  get url () { return `postgresql://tandem@127.0.0.1:${this.port}/postgres` }

  async stop () {
    if (this.proc?.alive()) await this.proc.stop('SIGQUIT', 5000)
    try { fs.rmSync(this.dir, { recursive: true, force: true }) } catch {}
  }
}

// `tandem store --database postgres://…` (Proc.start always passes --data-dir, which excludes
// --database, so the store is spawned here).
export class Store {
  static async start ({ database, port, secret = SNAPSHOT_SECRET } = {}) {
    const s = new Store()
    s.port = port ?? await freePort()
    s.secret = secret
    s.proc = Child.start(tandemPath(), ['store', '--host', '127.0.0.1', '--port', String(s.port), '--database', database,
      '--secret', secret, '--log-level', 'warn'], { name: 'tandem store' })
    await waitFor(async () => {
      if (!s.proc.alive()) throw new Error(`tandem store exited at start: ${JSON.stringify(s.proc.exitInfo)}\n${s.proc.tail()}`)
      try { return (await fetch(`${s.http}/healthz`, { signal: AbortSignal.timeout(2000) })).ok } catch { return false }
    }, 'tandem store to be healthy', 30000)
    return s
  }

  get http () { return `http://127.0.0.1:${this.port}` }
  get auth () { return { Authorization: `Bearer ${this.secret}` } }

  // The latest snapshot's bytes, or null (404).
  async snapshot (room) {
    const r = await fetch(`${this.http}/collaboration/snapshot?roomId=${encodeURIComponent(room)}`, { headers: this.auth, signal: AbortSignal.timeout(20000) })
    if (r.status === 404) return null
    if (r.status !== 200) throw new Error(`store GET ${room}: ${r.status} ${await r.text()}`)
    return new Uint8Array(await r.arrayBuffer())
  }

  // [{version, size, time, checksum, merged, …}] newest first.
  async versions (room) {
    const r = await fetch(`${this.http}/collaboration/snapshot/versions?roomId=${encodeURIComponent(room)}`, { headers: this.auth, signal: AbortSignal.timeout(20000) })
    assert.equal(r.status, 200, `store versions ${room}: ${r.status}`)
    return r.json()
  }

  // A save as a node makes it (optionally with X-Tandem-Epoch): {status, json, text}.
  async post (room, bytes, { epoch } = {}) {
    const headers = { ...this.auth, 'Content-Type': 'application/octet-stream' }
    if (epoch !== undefined) headers['X-Tandem-Epoch'] = String(epoch)
    const r = await fetch(`${this.http}/collaboration/snapshot?roomId=${encodeURIComponent(room)}`, { method: 'POST', body: bytes, headers, signal: AbortSignal.timeout(20000) })
    const text = await r.text()
    let json = null
    try { json = JSON.parse(text) } catch {}
    return { status: r.status, json, text }
  }

  async stop () { await this.proc.stop('SIGTERM', 10000) }
}

// ---------------------------------------------------------------------------------------------
// tandem serve --redis

export const requireClusterFlags = () => {
  const known = supportedFlags('serve')
  if (!known.has('--redis')) throw new Error('tandem serve has no --redis: the binary predates cluster mode (issue #19)')
  const missing = Object.keys(TIMINGS).filter(f => !known.has(f))
  if (missing.length) console.log(`NOTE tandem serve has no ${missing.join(', ')}: the nodes run with that default`)
}

export const nodeArgs = ({ redisUrl, storeUrl, nodeId, timings = {}, extra = [] }) => {
  const t = { ...TIMINGS, ...timings }
  const args = ['--redis', redisUrl, '--node-id', nodeId, '--snapshot-url', storeUrl, '--snapshot-secret', SNAPSHOT_SECRET,
    '--auth', 'none', '--durability', 'normal']
  for (const [k, v] of Object.entries(t)) if (v !== null && v !== undefined) args.push(k, v)
  return [...args, ...extra]
}

const ready = async (http) => {
  try { return (await fetch(`${http}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200 } catch { return false }
}

// Prometheus text: the sum of every sample of `name` whose labels include `labels`; 0 when absent
// (NaN when `strict` and absent).
export const metricSum = (text, name, labels = {}, { strict = false } = {}) => {
  let sum = NaN
  const re = new RegExp(`^${name}(\\{([^}]*)\\})?\\s+(\\S+)`, 'gm')
  for (const m of String(text).matchAll(re)) {
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(x => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[3])
  }
  return Number.isNaN(sum) && !strict ? 0 : sum
}

// The sums of some metrics over the live nodes: {name: total}.
export const liveMetricTotals = async (cluster, ...names) => {
  const totals = Object.fromEntries(names.map(n => [n, 0]))
  for (const n of cluster.live()) {
    const text = await cluster.metrics(n.index)
    for (const name of names) totals[name] += metricSum(text, name)
  }
  return totals
}

// ---------------------------------------------------------------------------------------------
// The cluster: Redis, PostgreSQL, a store, N nodes (and optionally HAProxy in front).

export class Cluster {
  static async start ({ nodes = 3, timings = {}, extra = [] } = {}) {
    requireClusterFlags()
    const c = new Cluster()
    c.t0 = Date.now()
    c.timings = timings
    c.extra = extra
    c.runId = crypto.randomBytes(3).toString('hex')
    const [redis, pg] = await Promise.all([Redis.start(), Postgres.start()])
    c.redis = redis
    c.pg = pg
    c.store = await Store.start({ database: pg.url })
    c.nodes = []
    for (let i = 0; i < nodes; i++) c.nodes.push({ index: i, id: `n${i + 1}-${c.runId}`, port: await freePort(), dataDir: scratchDir('tandem-cluster-node-'), up: false, proc: null })
    await Promise.all(c.nodes.map(n => c.startNode(n.index)))
    figure('startup_ms', Date.now() - c.t0)
    return c
  }

  async startNode (i) {
    const n = this.nodes[i]
    n.proc = await Proc.start('serve', {
      args: nodeArgs({ redisUrl: this.redis.url, storeUrl: this.store.http, nodeId: n.id, timings: this.timings, extra: this.extra }),
      port: n.port, dataDir: n.dataDir, logLevel: LOG_LEVEL
    })
    await waitFor(async () => {
      if (!n.proc.alive()) throw new Error(`node ${n.id} exited at start: ${n.proc.describeDeath()}\n${n.proc.output.slice(-3000)}`)
      return ready(n.proc.http)
    }, `node ${n.id} /readyz 200`, 30000)
    n.up = true
    return n
  }

  ws (i) { return `ws://127.0.0.1:${this.nodes[i].port}` }
  http (i) { return `http://127.0.0.1:${this.nodes[i].port}` }
  live () { return this.nodes.filter(n => n.up) }
  indexOfId (id) { return this.nodes.findIndex(n => n.id === id) }

  // The next node after `i` (round robin) that is up; `i` itself when it is the only one.
  nextLive (i) {
    for (let k = 1; k <= this.nodes.length; k++) {
      const j = (i + k) % this.nodes.length
      if (this.nodes[j].up) return j
    }
    return i
  }

  // kill -9 (or another signal) node i; marked down first so clients reconnect elsewhere.
  async kill (i, signal = 'SIGKILL') {
    const n = this.nodes[i]
    n.up = false
    const t0 = Date.now()
    try { n.proc.proc.kill(signal) } catch {}
    const info = await n.proc.exited
    return { ...info, ms: Date.now() - t0 }
  }

  pause (i) { this.nodes[i].up = false; this.nodes[i].proc.proc.kill('SIGSTOP') }
  resume (i, { markUp = true } = {}) { this.nodes[i].proc.proc.kill('SIGCONT'); if (markUp) this.nodes[i].up = true }

  async metrics (i) {
    return (await fetch(`${this.http(i)}/metrics`, { signal: AbortSignal.timeout(10000) })).text()
  }

  async metric (i, name, labels = {}) { return metricSum(await this.metrics(i), name, labels) }

  // The sum of a metric over the live nodes.
  async metricAll (name, labels = {}) {
    let s = 0
    for (const n of this.live()) s += await this.metric(n.index, name, labels)
    return s
  }

  // Redis look-ups
  async lease (room) { return this.redis.str('GET', keys.lease(room)) }
  async meta (room) {
    const a = await this.redis.call('HGETALL', keys.meta(room))
    const out = {}
    for (let i = 0; i + 1 < a.length; i += 2) out[a[i].toString()] = Number(a[i + 1].toString())
    return out
  }

  // [{id, ms, s, u, n}] of the room's stream (all of it, or from `start`).
  async stream (room, { start = '-', end = '+' } = {}) {
    const entries = await this.redis.call('XRANGE', keys.log(room), start, end)
    return entries.map(([id, fields]) => {
      const f = {}
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i].toString()] = fields[i + 1]
      const ids = id.toString()
      return { id: ids, ms: Number(ids.split('-')[0]), s: f.s ? Number(f.s.toString()) : NaN, u: f.u ? new Uint8Array(f.u) : null, n: f.n ? f.n.toString() : null }
    })
  }

  async xlen (room) { return this.redis.call('XLEN', keys.log(room)) }

  // XINFO STREAM's entries-added (every entry ever added, trimmed or not) of `key`; 0 if none.
  async entriesAdded (key) {
    try {
      const a = await this.redis.call('XINFO', 'STREAM', key)
      for (let i = 0; i + 1 < a.length; i += 2) if (String(a[i]) === 'entries-added') return Number(a[i + 1])
    } catch (e) { if (!/no such key/i.test(e.message)) throw e }
    return 0
  }

  // The sequence of the stream's first entry (Infinity when empty).
  async firstSeq (room) {
    const e = await this.redis.call('XRANGE', keys.log(room), '-', '+', 'COUNT', 1)
    if (!e.length) return Infinity
    const f = e[0][1]
    for (let i = 0; i + 1 < f.length; i += 2) if (f[i].toString() === 's') return Number(f[i + 1].toString())
    return NaN
  }

  // The owner of the room's lease as a node index (-1: none or unknown).
  async ownerIndex (room) {
    const id = await this.lease(room)
    return id === null ? -1 : this.indexOfId(id)
  }

  async waitOwner (room, { not = [], timeoutMs = 15000 } = {}) {
    let idx = -1
    await waitFor(async () => {
      idx = await this.ownerIndex(room)
      return idx >= 0 && !not.includes(idx)
    }, `a lease owner of ${room}${not.length ? ` other than node ${not.join(',')}` : ''}`, timeoutMs)
    return idx
  }

  // Prints the tail of every process's output (after a failure).
  dump (chars = 4000) {
    for (const n of this.nodes) if (n.proc) console.log(`---- node ${n.id} (${n.proc.describeDeath()}):\n${n.proc.output.slice(-chars)}`)
    console.log(`---- redis:\n${this.redis.proc.tail(1500)}`)
    console.log(`---- store:\n${this.store.proc.tail(1500)}`)
    if (this.haproxy) console.log(`---- haproxy:\n${this.haproxy.proc.tail(1500)}`)
  }

  // Sanitizer reports of any node (ASan build): [] when clean.
  sanitizerReports () {
    return this.nodes.filter(n => n.proc?.sanitizerReport).map(n => `${n.id}: ${n.proc.sanitizerReport.slice(0, 2000)}`)
  }

  // SIGTERM to every node still running: [{id, exit, killedBefore}] (killedBefore: the test
  // had already stopped it).
  async stopNodes () {
    return Promise.all(this.nodes.filter(n => n.proc).map(async n => {
      const killedBefore = !n.proc.alive()
      try { n.proc.proc.kill('SIGCONT') } catch {}
      const exit = await n.proc.stop({ signal: 'SIGTERM', graceMs: 12000 })
      return { id: n.id, exit: { code: exit.code, signal: exit.signal, killed: exit.killed }, killedBefore }
    }))
  }

  async stop () {
    await this.stopNodes()
    if (this.haproxy) await this.haproxy.stop()
    await this.store?.stop()
    await this.redis?.stop()
    await this.pg?.stop()
    this.redis?.cleanup()
    for (const n of this.nodes) { try { fs.rmSync(n.dataDir, { recursive: true, force: true }) } catch {} }
  }
}

// Runs `fn(cluster)`; on failure prints every process's output tail; always stops the cluster.
// After a clean run the nodes must stop on SIGTERM with exit 0 and no sanitizer report (ASan's
// leak check runs at exit). Warnings and errors in the nodes' logs are counted as figures.
export const withCluster = async (opts, fn) => {
  const c = await Cluster.start(opts)
  let ok = false
  try {
    await fn(c)
    assert.deepEqual(c.sanitizerReports(), [], 'sanitizer reports')
    ok = true
  } finally {
    if (!ok) c.dump()
    const exits = await c.stopNodes()
    await c.stop()
    for (const n of c.nodes) {
      const lines = n.proc ? n.proc.output.split('\n') : []
      const errors = lines.filter(l => / (error|critical) /.test(l))
      figure(`${n.id.split('-')[0]}_log_warnings`, lines.filter(l => / warning /.test(l)).length)
      figure(`${n.id.split('-')[0]}_log_errors`, errors.length)
      for (const e of errors.slice(0, 3)) console.log(`LOG ${n.id}: ${e.slice(0, 300)}`)
    }
    if (ok) {
      assert.deepEqual(c.sanitizerReports(), [], 'sanitizer reports at exit')
      const bad = exits.filter(e => e.exit && !(e.exit.code === 0 || e.killedBefore))
      assert.deepEqual(bad, [], 'nodes that did not stop cleanly on SIGTERM')
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HAProxy in front of the nodes: balance uri with consistent hashing, /readyz health checks.

export class HAProxy {
  static async start (backends, { checkInterMs = 200 } = {}) {
    const h = new HAProxy()
    h.dir = scratchDir('tandem-cluster-haproxy-')
    h.port = await freePort()
    h.statsPort = await freePort()
    h.backends = backends
    const servers = backends.map(b => `  server ${b.name} 127.0.0.1:${b.port} check`).join('\n')
    h.config = `global
  maxconn 4096
  log stderr format short local0 notice

defaults
  mode http
  log global
  option dontlognull
  retries 3
  option redispatch
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  timeout http-request 10s
  timeout queue 5s

frontend tandem
  bind 127.0.0.1:${h.port}
  default_backend nodes

backend nodes
  balance uri
  hash-type consistent
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter ${checkInterMs}ms fastinter ${checkInterMs}ms downinter ${checkInterMs}ms fall 2 rise 2 on-marked-down shutdown-sessions
${servers}

listen stats
  bind 127.0.0.1:${h.statsPort}
  stats enable
  stats uri /stats
`
    h.configPath = path.join(h.dir, 'haproxy.cfg')
    fs.writeFileSync(h.configPath, h.config)
    execFileSync('/usr/sbin/haproxy', ['-c', '-q', '-f', h.configPath])
    h.proc = Child.start('/usr/sbin/haproxy', ['-db', '-f', h.configPath], { name: 'haproxy' })
    await waitFor(async () => {
      if (!h.proc.alive()) throw new Error(`haproxy exited: ${h.proc.tail()}`)
      const st = await h.status().catch(() => null)
      return st !== null && backends.every(b => st[b.name] === 'UP')
    }, 'haproxy with every backend UP', 20000)
    return h
  }

  get ws () { return `ws://127.0.0.1:${this.port}` }
  get http () { return `http://127.0.0.1:${this.port}` }

  // {server name: 'UP' | 'DOWN' | …}
  async status () {
    const r = await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`, { signal: AbortSignal.timeout(2000) })
    const text = await r.text()
    const out = {}
    for (const line of text.split('\n')) {
      const f = line.split(',')
      if (f[0] === 'nodes' && f[1] !== 'BACKEND' && f[1] !== 'FRONTEND') out[f[1]] = f[17]
    }
    return out
  }

  async stop () {
    await this.proc.stop('SIGTERM', 5000)
    try { fs.rmSync(this.dir, { recursive: true, force: true }) } catch {}
  }
}

// ---------------------------------------------------------------------------------------------
// Clients: a stock WebsocketProvider pinned to a node; on close it reconnects to the next live
// node (the provider's serverUrl is rotated in its 'connection-close' handler, before its own
// reconnect timer runs). Every update it sends or receives is recorded.

let clientSeq = 0

export class Client {
  // `target`: a node index of `cluster`, or {url} (HAProxy; never rotated).
  constructor (cluster, room, target, { rotate = true, maxBackoffTime = 400, doc = new Y.Doc(), record = true, name } = {}) {
    this.cluster = cluster
    this.room = room
    this.name = name ?? `c${++clientSeq}`
    this.doc = doc
    this.fixedUrl = typeof target === 'object' ? target.url : null
    this.node = typeof target === 'number' ? target : -1
    this.rotate = rotate && this.fixedUrl === null
    this.sent = [] // {u, t, connected}
    this.received = [] // {u, t}
    this.closes = [] // {code, reason, t, node}
    this.connects = 0
    this.destroyed = false
    this.record = record
    const url = this.fixedUrl ?? cluster.ws(this.node)
    this.provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true, resyncInterval: -1, maxBackoffTime })
    const destroy = this.provider.destroy.bind(this.provider)
    this.provider.destroy = () => { destroy(); this.provider.awareness.destroy() }
    this.provider.on('status', ({ status }) => { if (status === 'connected') this.connects++ })
    this.provider.on('connection-close', (ev) => {
      this.closes.push({ code: ev?.code ?? null, reason: ev?.reason ? String(ev.reason) : '', t: Date.now(), node: this.node })
      if (this.rotate && !this.destroyed) {
        this.node = cluster.nextLive(this.node)
        this.provider.serverUrl = cluster.ws(this.node)
      }
    })
    this.onUpdate = (u, origin) => {
      if (!this.record) return
      if (origin === this.provider) this.received.push({ u, t: Date.now() })
      else this.sent.push({ u, t: Date.now(), connected: this.provider.wsconnected })
    }
    doc.on('update', this.onUpdate)
  }

  get connected () { return this.provider.wsconnected && this.provider.synced }
  get clientID () { return this.doc.clientID }
  sv () { return svObject(Y.encodeStateVector(this.doc)) }

  async synced (timeoutMs = 20000) {
    await waitFor(() => this.connected, `${this.name} (${this.room}) to sync`, timeoutMs)
  }

  // Moves the client to node `i` now (closes the socket; the provider reconnects there).
  moveTo (i) {
    this.node = i
    this.provider.serverUrl = this.cluster.ws(i)
    this.provider.ws?.close()
  }

  // Leaves (the provider is destroyed; the doc and the records stay for the checks).
  leave () {
    if (this.destroyed) return
    this.destroyed = true
    this.provider.destroy()
  }

  // One random local edit (one transaction, one update).
  edit (rng) { randomEdit(this.doc, rng, this.name) }
}

export const svObject = (sv) => Object.fromEntries([...Y.decodeStateVector(sv)].sort(([a], [b]) => a - b))

// A seeded PRNG (mulberry32), so a failing run can be replayed with TANDEM_CLUSTER_SEED.
export const makeRng = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export const seed = () => {
  const s = Number(process.env.TANDEM_CLUSTER_SEED ?? crypto.randomInt(1, 2 ** 31))
  console.log(`SEED ${s} (replay with TANDEM_CLUSTER_SEED=${s})`)
  return s
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', ' ', 'x', 'yjs', 'redis', '✓', 'ü', '\n']

export const randomEdit = (doc, rng, who = '') => {
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const arr = doc.getArray('array')
  const r = rng()
  const int = (n) => Math.floor(rng() * n)
  if (r < 0.5 || text.length === 0) text.insert(int(text.length + 1), WORDS[int(WORDS.length)])
  else if (r < 0.62) { const p = int(text.length); text.delete(p, Math.min(1 + int(4), text.length - p)) } else if (r < 0.82) map.set(`k${int(24)}`, `${who}:${int(1000)}`)
  else if (r < 0.94 || arr.length === 0) arr.insert(int(arr.length + 1), [int(1000)])
  else arr.delete(int(arr.length), 1)
}

// Every client edits at about `perSecond` (random gaps) for `ms`, while `whileFn()` (if given)
// is true. Edits go on whether the client is connected or not (unsent edits are the point of
// several scenarios). Resolves the number of edits made.
export const editFor = async (clients, { ms, perSecond = 5, rng, stop = () => false }) => {
  const deadline = Date.now() + ms
  const next = clients.map(() => Date.now() + rng() * 1000 / perSecond)
  let edits = 0
  while (Date.now() < deadline && !stop()) {
    const now = Date.now()
    clients.forEach((c, i) => {
      if (c.destroyed || now < next[i]) return
      c.edit(rng)
      edits++
      next[i] = now + (0.5 + rng()) * 1000 / perSecond
    })
    await sleep(10)
  }
  return edits
}

// ---------------------------------------------------------------------------------------------
// The end-of-test check

// A doc holding `updates` applied in order (v1). Returns {doc, undecodable}.
const docOf = (updates) => {
  const doc = new Y.Doc()
  let undecodable = 0
  for (const u of updates) {
    try { Y.decodeUpdate(u) } catch { undecodable++; continue }
    Y.applyUpdate(doc, u)
  }
  return { doc, undecodable }
}

const sameState = (a, b) => Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))
const pendingOf = (doc) => doc.store.pendingStructs !== null || doc.store.pendingDs !== null
const describe = (doc) => JSON.stringify({ sv: svObject(Y.encodeStateVector(doc)), json: docJson(doc) }).slice(0, 600)

// A fresh client joins node i, syncs, and leaves: its doc (the node's document).
export const freshJoin = async (cluster, room, i, timeoutMs = 20000) => {
  const c = new Client(cluster, room, i, { rotate: false, record: false, name: `fresh@${cluster.nodes[i]?.id ?? i}` })
  try {
    await c.synced(timeoutMs)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(c.doc))
    return doc
  } finally { c.leave() }
}

// The store's snapshot plus the stream's remaining entries (the stream is read first: a save and
// trim between the two reads then only makes the snapshot newer, never leaves a hole).
export const storePlusLog = async (cluster, room) => {
  const entries = await cluster.stream(room)
  const snap = await cluster.store.snapshot(room)
  const { doc, undecodable } = docOf([...(snap ? [snap] : []), ...entries.map(e => e.u).filter(Boolean)])
  return { doc, entries: entries.length, undecodable, snapshotBytes: snap?.length ?? 0 }
}

// The full check of docs/CLUSTER.md scenarios, for `rooms`: Map room → [Client] (clients that
// left are still checked for containment). Options: `nodes` (indexes to join; default the live
// ones), `allowUndecodable` (entries of a poisoned stream skipped), `timeoutMs`.
// Returns figures {convergeMs, …}.
export const checkRooms = async (cluster, rooms, { nodes, allowUndecodable = false, timeoutMs = 60000 } = {}) => {
  const t0 = Date.now()
  const deadline = t0 + timeoutMs
  const left = () => Math.max(1000, deadline - Date.now())
  const all = [...rooms.values()].flat()
  // 1. every client still in is connected and synced
  await waitFor(() => all.every(c => c.destroyed || c.connected), 'every client connected and synced',
    left()).catch(e => {
    throw new Error(`${e.message}: ${all.filter(c => !c.destroyed && !c.connected).map(c => `${c.name}@${c.node} closes=${JSON.stringify(c.closes.slice(-3))}`).join('; ')}`)
  })
  // 2. the clients of each room agree
  for (const [room, clients] of rooms) {
    const active = clients.filter(c => !c.destroyed)
    if (active.length < 2) continue
    await waitFor(() => active.every(c => sameState(c.doc, active[0].doc)), `the clients of ${room} to converge`, left()).catch(e => {
      throw new Error(`${e.message}:\n${active.map(c => `  ${c.name}@${c.node}: ${describe(c.doc)}`).join('\n')}`)
    })
  }
  const convergeMs = Date.now() - t0
  const joinNodes = nodes ?? cluster.live().map(n => n.index)
  let entries = 0
  let undecodable = 0
  for (const [room, clients] of rooms) {
    const active = clients.filter(c => !c.destroyed)
    // the reference: a connected client's doc, or the first node's document
    let ref = active[0]?.doc
    // 3. a fresh join on every node holds the same document (retried: a node may lag a little)
    const joined = []
    for (const i of joinNodes) {
      let doc = null
      await waitFor(async () => {
        doc = await freshJoin(cluster, room, i, left())
        if (!ref) ref = doc
        return sameState(doc, ref)
      }, `a fresh join of ${room} on node ${cluster.nodes[i].id} to equal the clients' document`, left()).catch(e => {
        throw new Error(`${e.message}:\n  join: ${doc && describe(doc)}\n  ref:  ${describe(ref)}`)
      })
      assert.deepEqual(docJson(doc), docJson(ref), `${room}: fresh join on ${cluster.nodes[i].id}, JSON`)
      joined.push(doc)
    }
    // 4. the store's snapshot plus the stream equals it
    let sl = null
    await waitFor(async () => {
      sl = await storePlusLog(cluster, room)
      return sameState(sl.doc, ref)
    }, `the store's snapshot plus the stream of ${room} to equal the document`, left()).catch(e => {
      throw new Error(`${e.message}:\n  store+log: ${sl && describe(sl.doc)} (${sl?.entries} entries, ${sl?.undecodable} undecodable, snapshot ${sl?.snapshotBytes} B)\n  ref:       ${describe(ref)}`)
    })
    assert.deepEqual(docJson(sl.doc), docJson(ref), `${room}: store + log JSON`)
    entries += sl.entries
    undecodable += sl.undecodable
    if (!allowUndecodable) assert.equal(sl.undecodable, 0, `${room}: ${sl.undecodable} stream entries are not Yjs updates`)
    // 5. every update any client sent or received, and every client's whole state, is contained
    const probe = new Y.Doc()
    Y.applyUpdate(probe, Y.encodeStateAsUpdate(ref))
    let recorded = 0
    probe.transact(() => {
      for (const c of clients) {
        for (const { u } of c.sent) { Y.applyUpdate(probe, u); recorded++ }
        for (const { u } of c.received) { Y.applyUpdate(probe, u); recorded++ }
        Y.applyUpdate(probe, Y.encodeStateAsUpdate(c.doc))
      }
    })
    assert.ok(!pendingOf(probe), `${room}: recorded updates depend on structs the final document lacks`)
    assert.ok(sameState(probe, ref), `${room}: an update a client sent or received is missing from the final document:\n  with them: ${describe(probe)}\n  final:     ${describe(ref)}`)
    assert.deepEqual(docJson(probe), docJson(ref), `${room}: recorded updates change the final document`)
    probe.destroy()
    if (recorded === 0 && clients.length) console.log(`NOTE ${room}: no updates recorded`)
  }
  return { convergeMs, checkMs: Date.now() - t0, entries, undecodable }
}

// ---------------------------------------------------------------------------------------------
// Misc

export const totalSent = (clients, { connectedOnly = false } = {}) =>
  clients.reduce((n, c) => n + c.sent.filter(s => !connectedOnly || s.connected).length, 0)

export const closeCodes = (clients) => {
  const out = {}
  for (const c of clients) for (const x of c.closes) out[x.code] = (out[x.code] ?? 0) + 1
  return out
}

// Each client's own clock now (the edits it made so far).
export const ownClocks = (clients) => new Map(clients.map(c => [c, Y.getState(c.doc.store, c.doc.clientID)]))

// Where a client holds another's edits made after `clocks` (ownClocks) were taken: for a time when
// Redis could log nothing, each is an edit relayed unlogged.
export const editsSeenSince = (rooms, clocks) => {
  const out = []
  for (const [r, cs] of rooms) {
    for (const x of cs) {
      for (const y of cs) {
        if (x === y) continue
        const seen = Y.getState(y.doc.store, x.doc.clientID)
        if (seen > clocks.get(x)) out.push(`${r}: ${y.name} has ${x.name}'s clock ${seen} > ${clocks.get(x)}`)
      }
    }
  }
  return out
}

export const roomName = (prefix) => `${prefix}-${crypto.randomBytes(3).toString('hex')}`

export const leaveAll = (clients) => { for (const c of clients) c.leave() }

// `count` clients of `room`, spread round robin over the nodes starting at `first`.
export const spread = (cluster, room, count, { first = 0, nodes } = {}) => {
  const idx = nodes ?? cluster.nodes.map(n => n.index)
  return Array.from({ length: count }, (_, k) => new Client(cluster, room, idx[(first + k) % idx.length]))
}

export const syncAll = async (clients, timeoutMs = 30000) => {
  const deadline = Date.now() + timeoutMs
  for (const c of clients) if (!c.destroyed) await c.synced(Math.max(1000, deadline - Date.now()))
}

// Map room → clients, from a flat list.
export const byRoom = (clients) => {
  const m = new Map()
  for (const c of clients) { if (!m.has(c.room)) m.set(c.room, []); m.get(c.room).push(c) }
  return m
}

// Milliseconds until every client of `clients` has `check(client)` true (polls every 20 ms).
export const timeUntil = async (check, what, timeoutMs = 20000) => {
  const t0 = Date.now()
  await waitFor(check, what, timeoutMs)
  return Date.now() - t0
}

// One edit from `from` (a map key) timed until every client of `to` sees it.
export const probeOnce = async (from, to, timeoutMs = 10000) => {
  const key = `probe-${crypto.randomBytes(4).toString('hex')}`
  const t0 = performance.now()
  from.doc.getMap('map').set('probe', key)
  await waitFor(() => to.every(c => c.doc.getMap('map').get('probe') === key), `probe ${key} from ${from.name} to arrive`, timeoutMs)
  return performance.now() - t0
}

// The metric families a cluster node exposes (names starting tandem_cluster_), for the log.
export const clusterMetricNames = (text) => [...new Set([...String(text).matchAll(/^(tandem_cluster_[a-z0-9_]+)/gm)].map(m => m[1]))]
