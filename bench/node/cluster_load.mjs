// Cluster benchmark (issue #19): three Tandem nodes on Redis (`tandem serve --redis`, a shared
// `tandem store` on PostgreSQL) against three Hocuspocus 4 processes with
// `@hocuspocus/extension-redis`, the same load, the same Redis (FLUSHALL between systems), one run.
//
// Load: ROOMS rooms x 6 clients, 2 on each node; one writer per room (rooms' writers spread over the
// nodes) sends a real yjs keystroke update RATE times a second; its 5 readers (1 on its own node, 4
// on the other two) receive it. The writer's send time is recorded per update (by its yjs clock),
// so a reader knows each update's latency; "cross-node" = a reader on another node than the writer.
//
// Phases per system:
//  1. delivery: RATE edits/s per room for SECONDS s. CPU = utime+stime (/proc) of the three nodes and
//     redis-server over the phase / updates delivered; p50/p99 latency, cross-node and same-node;
//     Redis commands per update (INFO commandstats delta, including the commands scripts run) and
//     bytes through Redis per update; then a short MONITOR sample at the same load tells the
//     requests clients sent apart from the commands run inside scripts.
//  2. saturation: the rate per room steps up (15, 20, 30, ... edits/s) every STEP_SECONDS s until
//     p99 > 50 ms or deliveries fall behind (not all delivered within a second of the step's end);
//     the highest step held (the delivery phase counting as the first) is the saturation
//     throughput. The load generator (this process) shares the machine's cores.
// A warm-up of a few seconds at the delivery load precedes the measurements.
// Prints JSON to stdout. Usage:
//   node bench/node/cluster_load.mjs [TANDEM_BINARY | OUT_DIR]
// (default binary build/release/src/cli/tandem; an OUT_DIR also gets cluster-load.json).
// Env: CLUSTER_ONLY=tandem|hocuspocus, CLUSTER_ROOMS, CLUSTER_RATE, CLUSTER_SECONDS,
// CLUSTER_STEPS (rates per room for saturation, e.g. "20,40,80"), CLUSTER_STEP_SECONDS, TANDEM_ARGS,
// CLUSTER_REPEATS (delivery phases run again after both systems, in turns; default 4: five phases each).
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

const require = createRequire(path.resolve('tests/interop/package.json'))
const WebSocket = require('ws')
const Y = require('yjs')
const encoding = require('lib0/encoding')
const decoding = require('lib0/decoding')
// @hocuspocus/extension-redis 4 brings the @hocuspocus/server 4 it is built for (nested under it,
// since the top level keeps @hocuspocus/server 2 for server_load.mjs): the nodes use that one.
const redisExtensionDir = path.resolve(path.dirname(require.resolve('@hocuspocus/extension-redis')), '..')
const extRequire = createRequire(path.join(redisExtensionDir, 'package.json'))
const hocuspocusServerDir = path.resolve(path.dirname(extRequire.resolve('@hocuspocus/server')), '..')
const hocuspocusVersion = JSON.parse(fs.readFileSync(path.join(hocuspocusServerDir, 'package.json'), 'utf8')).version
const redisExtensionVersion = JSON.parse(fs.readFileSync(path.join(redisExtensionDir, 'package.json'), 'utf8')).version

const env = (name, def) => Number(process.env[name] ?? def)
const NODES = 3
const PER_NODE = 2 // clients of a room on each node
const ROOMS = env('CLUSTER_ROOMS', 100)
const RATE = env('CLUSTER_RATE', 10) // edits per second per room
const SECONDS = env('CLUSTER_SECONDS', 10)
const MONITOR_SECONDS = 1.5
const WARMUP_SECONDS = env('CLUSTER_WARMUP_SECONDS', 3)
// `everysec` shows what the per-append fsync costs (the figures are with `always`).
const APPENDFSYNC = process.env.CLUSTER_APPENDFSYNC ?? 'always'
const STEPS = (process.env.CLUSTER_STEPS ?? '15,20,30,40,60,80,120,160,240,320').split(',').map(Number).filter(n => n > 0)
const STEP_SECONDS = env('CLUSTER_STEP_SECONDS', 5)
const THREADS = env('CLUSTER_THREADS', 1) // worker threads per Tandem node
const REPEATS = env('CLUSTER_REPEATS', 4) // further delivery phases, the systems taking turns
const SATURATION_P99_MS = 50

let tandemBinary = 'build/release/src/cli/tandem'
let outDir = null
if (process.argv[2]) {
  if (fs.existsSync(process.argv[2]) && fs.statSync(process.argv[2]).isDirectory()) outDir = process.argv[2]
  else tandemBinary = process.argv[2]
}
tandemBinary = path.resolve(tandemBinary)

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
const log = (...a) => process.stderr.write(`cluster-load: ${a.join(' ')}\n`)
const clockTicks = 100 // USER_HZ on Linux
const cpuSeconds = (pid) => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch { return NaN }
}
const cpuSplit = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(fields[11]) / clockTicks, sys: Number(fields[12]) / clockTicks }
}
// Context switches of a process, all threads (voluntary + involuntary).
const contextSwitches = (pid) => {
  let n = 0
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const status = fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8')
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) n += Number(m[1])
    }
  } catch {}
  return n
}
const percentile = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN

const freePort = () => new Promise(resolve => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address(); s.close(() => resolve(port))
  })
})

const waitHttp = async (url, what, proc) => {
  for (let i = 0; i < 600; i++) {
    if (proc && proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`)
    try { const r = await fetch(url); if (r.ok) return } catch {}
    await sleep(25)
  }
  throw new Error(`${what} did not answer ${url}`)
}

const children = new Set()
const track = (proc) => { children.add(proc); proc.once('exit', () => children.delete(proc)); return proc }
const stop = async (proc, signal = 'SIGKILL') => {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill(signal)
  await new Promise(resolve => proc.once('exit', resolve))
}
process.on('exit', () => { for (const p of children) try { p.kill('SIGKILL') } catch {} })
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-cluster-bench-'))
fs.chmodSync(tmp, 0o755)

// --- Redis: Debian's redis-server, durable as cluster mode needs it --------------------------------

const redis = {
  port: 0,
  proc: null,
  cli (...args) { return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) },
  info (section) {
    const out = {}
    for (const line of this.cli('INFO', section).split('\n')) {
      const i = line.indexOf(':')
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim()
    }
    return out
  },
  // cmdstat_<name>: calls per command. INFO itself is one call, subtracted by the caller.
  commandCalls () {
    const calls = {}
    for (const [k, v] of Object.entries(this.info('commandstats'))) {
      const m = /calls=(\d+)/.exec(v)
      if (m) calls[k.replace('cmdstat_', '')] = Number(m[1])
    }
    return calls
  },
  netBytes () { const s = this.info('stats'); return Number(s.total_net_input_bytes) + Number(s.total_net_output_bytes) },
  async start () {
    this.port = await freePort()
    const dir = path.join(tmp, 'redis')
    fs.mkdirSync(dir)
    this.proc = track(spawn('/usr/bin/redis-server', ['--port', String(this.port), '--bind', '127.0.0.1',
      '--dir', dir, '--appendonly', 'yes', '--appendfsync', APPENDFSYNC, '--save', '',
      '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')],
    { stdio: ['ignore', 'ignore', 'inherit'] }))
    for (let i = 0; i < 400; i++) {
      try { if (this.cli('PING').trim() === 'PONG') return } catch {}
      await sleep(25)
    }
    throw new Error('redis-server did not start')
  }
}

// --- PostgreSQL in a temp dir and `tandem store` on it (Tandem's shared snapshot store) ------------

const postgres = {
  bin: null, dir: null, runAs: [], url: null,
  run (cmd, args) {
    const [exe, ...pre] = [...this.runAs, path.join(this.bin, cmd)]
    return execFileSync(exe, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  },
  async start () {
    const versions = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)) : []
    if (!versions.length) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin)')
    this.bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`
    this.dir = path.join(tmp, 'pg')
    fs.rmSync(this.dir, { recursive: true, force: true }) // a fresh database for each system's turn
    fs.mkdirSync(this.dir)
    if (process.getuid() === 0) { execFileSync('chown', ['postgres', this.dir]); this.runAs = ['runuser', '-u', 'postgres', '--'] }
    const port = await freePort()
    this.run('initdb', ['-D', `${this.dir}/data`, '-A', 'trust', '-U', 'tandem', '--no-sync'])
    this.run('pg_ctl', ['-D', `${this.dir}/data`, '-l', `${this.dir}/pg.log`, '-w',
      '-o', `-p ${port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start'])
    this.url = `postgresql://tandem@127.0.0.1:${port}/postgres`
  },
  stop () {
    if (!this.url) return
    try { this.run('pg_ctl', ['-D', `${this.dir}/data`, '-m', 'immediate', 'stop']) } catch {}
    this.url = null
  }
}
process.on('exit', () => postgres.stop())

// --- the two systems: start three nodes, return their ports and pids ------------------------------

const systems = {
  async tandem () {
    if (!fs.existsSync(tandemBinary)) throw new Error(`no Tandem binary at ${tandemBinary}`)
    await postgres.start()
    const secret = 'cluster-bench-secret'
    const storePort = await freePort()
    const store = track(spawn(tandemBinary, ['store', '--host', '127.0.0.1', '--port', String(storePort),
      '--database', postgres.url, '--secret', secret, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] }))
    await waitHttp(`http://127.0.0.1:${storePort}/healthz`, 'tandem store', store)
    const nodes = []
    for (let i = 1; i <= NODES; i++) {
      const port = await freePort()
      const dataDir = path.join(tmp, `tandem-n${i}`)
      fs.rmSync(dataDir, { recursive: true, force: true }) // a node starts empty on each turn
      fs.mkdirSync(dataDir)
      const proc = track(spawn(tandemBinary, ['serve', '--host', '127.0.0.1', '--port', String(port),
        '--data-dir', dataDir, '--auth', 'none', '--log-level', 'error',
        '--redis', `redis://127.0.0.1:${redis.port}`, '--node-id', `n${i}`,
        // One worker thread per node, as each Hocuspocus node is one (Node.js) thread: three
        // nodes share two cores here, and a node's appends batch on its one thread.
        '--threads', String(THREADS),
        '--snapshot-url', `http://127.0.0.1:${storePort}`, '--snapshot-secret', secret,
        ...(process.env.TANDEM_ARGS ?? '').split(' ').filter(Boolean)],
      { stdio: ['ignore', 'ignore', 'inherit'] }))
      nodes.push({ port, proc, url: (room) => `ws://127.0.0.1:${port}/${room}` })
    }
    for (const n of nodes) await waitHttp(`http://127.0.0.1:${n.port}/readyz`, `tandem node on ${n.port}`, n.proc)
    return {
      nodes,
      framing: framing.plain,
      extra: { store },
      async metrics () {
        const out = {}
        for (const [i, n] of nodes.entries()) {
          try {
            const text = await (await fetch(`http://127.0.0.1:${n.port}/metrics`)).text()
            out[`n${i + 1}`] = Object.fromEntries(text.split('\n')
              .filter(l => l.startsWith('tandem_cluster_') || l.startsWith('tandem_redis_'))
              .map(l => { const j = l.lastIndexOf(' '); return [l.slice(0, j), Number(l.slice(j + 1))] }))
          } catch (err) { out[`n${i + 1}`] = { error: String(err) } }
        }
        return out
      },
      async stop () {
        for (const n of nodes) await stop(n.proc)
        await stop(store)
        postgres.stop()
      }
    }
  },

  async hocuspocus () {
    const serverUrl = pathToFileURL(path.join(hocuspocusServerDir, 'dist/hocuspocus-server.esm.js')).href
    const extensionUrl = pathToFileURL(path.join(redisExtensionDir, 'dist/hocuspocus-redis.esm.js')).href
    const nodes = []
    for (let i = 1; i <= NODES; i++) {
      const port = await freePort()
      const proc = track(spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', `
        import { Server } from ${JSON.stringify(serverUrl)}
        import { Redis } from ${JSON.stringify(extensionUrl)}
        const server = new Server({ port: ${port}, address: '127.0.0.1', quiet: true, stopOnSignals: false,
          extensions: [new Redis({ host: '127.0.0.1', port: ${redis.port}, identifier: 'n${i}' })] })
        await server.listen()`], { stdio: ['ignore', 'ignore', 'inherit'] }))
      nodes.push({ port, proc, url: () => `ws://127.0.0.1:${port}/` })
    }
    for (const n of nodes) await waitHttp(`http://127.0.0.1:${n.port}/`, `hocuspocus node on ${n.port}`, n.proc)
    return {
      nodes,
      framing: framing.hocuspocus,
      extra: {},
      async metrics () { return null },
      async stop () { for (const n of nodes) await stop(n.proc) }
    }
  }
}

// --- protocol framing: y-websocket (room in the URL) and Hocuspocus (room name in each message) --

import { framing, syncStep1, updateMessage } from './wire.mjs'

// The writer's updates, one keystroke each: update k is clock k of WRITER_CLIENT.
const WRITER_CLIENT = 4242
const makeUpdates = (count) => {
  const doc = new Y.Doc()
  doc.clientID = WRITER_CLIENT
  const updates = []
  doc.on('update', u => updates.push(updateMessage(u)))
  const text = doc.getText('text')
  for (let i = 0; i < count; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  return updates
}

// The clocks of the writer's structs in a received update (sync step 2 or update message body).
// A keystroke update is one Item of a one-character string with a left origin: read its header;
// anything else (the first keystroke, merged or coalesced updates) is decoded by yjs.
const writerClocks = (update) => {
  const d = decoding.createDecoder(update)
  const groups = decoding.readVarUint(d)
  if (groups === 0) return []
  const structs = decoding.readVarUint(d)
  const client = decoding.readVarUint(d)
  const clock = decoding.readVarUint(d)
  if (groups === 1 && structs === 1 && client === WRITER_CLIENT) {
    const info = decoding.readUint8(d)
    if ((info & 0x1f) === 4 && (info & 0x80) && !(info & 0x20)) { // ContentString, origin, no parentSub
      decoding.readVarUint(d); decoding.readVarUint(d) // origin
      if (info & 0x40) { decoding.readVarUint(d); decoding.readVarUint(d) } // right origin
      if (decoding.readVarString(d).length === 1) return [clock]
    }
  }
  return Y.decodeUpdate(update).structs
    .filter(s => s.id.client === WRITER_CLIENT && s.constructor.name === 'Item')
    .flatMap(s => range(s.id.clock, s.length))
}
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i)

// --- clients ------------------------------------------------------------------------------------

// A raw client: sends sync step 1, resolves once the server's sync step 2 came. onClocks(clocks) is
// called with the writer's clocks each received update (or later sync step 2) carries.
const connect = (frame, url, room, onClocks) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.binaryType = 'nodebuffer'
  let ready = false
  const timer = setTimeout(() => { if (!ready) { ws.terminate(); reject(new Error(`sync timeout (${url} ${room})`)) } }, 30000)
  ws.on('open', () => {
    for (const m of frame.open(room)) ws.send(m)
    ws.send(frame.wrap(room, syncStep1))
  })
  ws.on('message', (data) => {
    const d = frame.unwrap(new Uint8Array(data))
    const outer = decoding.readVarUint(d)
    if (outer !== 0 && outer !== 4) return // sync (Hocuspocus: or its SyncReply)
    const step = decoding.readVarUint(d)
    if (step === 0) return
    const update = decoding.readVarUint8Array(d)
    if (step === 1 && !ready) { ready = true; clearTimeout(timer); resolve(ws); return }
    if (onClocks) onClocks(writerClocks(update))
  })
  ws.on('error', (err) => { if (!ready) { clearTimeout(timer); reject(err) } })
  ws.on('close', () => { if (!ready) { clearTimeout(timer); reject(new Error('closed before sync')) } })
})

// --- one system under load --------------------------------------------------------------------------

const sumCpu = (pids) => pids.reduce((s, pid) => s + cpuSeconds(pid), 0)

async function runSystem (name, { deliveryOnly = false } = {}) {
  redis.cli('FLUSHALL')
  const sys = await systems[name]()
  const nodePids = sys.nodes.map(n => n.proc.pid)
  const totalUpdates = Math.ceil(RATE * (WARMUP_SECONDS + SECONDS + MONITOR_SECONDS) + STEPS.reduce((s, r) => s + r * (STEP_SECONDS + 0.5), 0)) + 10
  const updates = makeUpdates(totalUpdates)
  const rooms = []
  // The current measurement window: latency samples (cross-node and same-node) of the updates sent
  // in it (update index >= since[room]), so late arrivals from an earlier window are not counted.
  const newWindow = () => ({ cross: [], local: [], delivered: 0, duplicates: 0, since: rooms.map(r => r.next) })
  let win = newWindow()
  log(name, `connecting ${ROOMS * NODES * PER_NODE} clients`)
  for (let r = 0; r < ROOMS; r++) {
    const roomName = `cluster-${name}-${r}`
    const writerNode = r % NODES
    const room = { name: roomName, writerNode, sent: new Float64Array(totalUpdates), next: 0, writer: null, readers: [] }
    const pending = []
    for (let n = 0; n < NODES; n++) {
      for (let c = 0; c < PER_NODE; c++) {
        const isWriter = n === writerNode && c === 0
        const cross = n !== writerNode
        const seen = new Uint8Array(totalUpdates)
        const onClocks = isWriter
          ? null
          : (clocks) => {
              const now = performance.now()
              for (const k of clocks) {
                const t = room.sent[k]
                if (!(t > 0)) continue // not sent (cannot happen: the writer's doc is this run's)
                if (seen[k]) { win.duplicates++; continue }
                seen[k] = 1
                if (!(k >= win.since[r])) continue
                const ms = now - t
                if (cross) win.cross.push(ms); else win.local.push(ms)
                win.delivered++
              }
            }
        pending.push(connect(sys.framing, sys.nodes[n].url(roomName), roomName, onClocks).then(ws => {
          if (isWriter) room.writer = ws; else room.readers.push(ws)
        }))
      }
    }
    await Promise.all(pending)
    rooms.push(room)
  }
  await sleep(1000)

  // Sends `rate` edits per second per room for `seconds`, the rooms staggered over the interval.
  const drive = async (rate, seconds) => {
    const interval = 1000 / rate
    const t0 = performance.now()
    const perRoom = Math.round(rate * seconds)
    const base = rooms.map(r => r.next)
    let sent = 0
    while (true) {
      const now = performance.now()
      let left = false
      for (let i = 0; i < rooms.length; i++) {
        const room = rooms[i]
        const offset = (i * interval) / rooms.length
        while (room.next - base[i] < perRoom && t0 + offset + (room.next - base[i]) * interval <= now) {
          const k = room.next++
          room.sent[k] = performance.now()
          room.writer.send(sys.framing.wrap(room.name, updates[k]))
          sent++
        }
        if (room.next - base[i] < perRoom) left = true
      }
      if (!left) break
      await sleep(1)
    }
    return sent
  }
  const readersPerRoom = NODES * PER_NODE - 1
  const drain = async (expected, ms) => {
    const deadline = performance.now() + ms
    while (win.delivered < expected && performance.now() < deadline) await sleep(10)
  }
  const allPids = () => [...nodePids, redis.proc.pid]
  const summarize = (sentCount, cpu, wall, w) => {
    w.cross.sort((a, b) => a - b); w.local.sort((a, b) => a - b)
    const all = w.cross.concat(w.local).sort((a, b) => a - b)
    return {
      updates_sent: sentCount,
      delivered: w.delivered,
      duplicates: w.duplicates,
      expected: sentCount * readersPerRoom,
      wall_s: wall,
      updates_per_s: sentCount / wall,
      cpu_s: cpu,
      cpu_us_per_delivery: (cpu * 1e6) / Math.max(1, w.delivered),
      cross_p50_ms: percentile(w.cross, 0.5),
      cross_p99_ms: percentile(w.cross, 0.99),
      local_p50_ms: percentile(w.local, 0.5),
      local_p99_ms: percentile(w.local, 0.99),
      p99_ms: percentile(all, 0.99),
      max_ms: all.at(-1)
    }
  }

  // Warm-up at the same load (JIT, first saves and locks, connections between nodes), not measured.
  log(name, `warm-up: ${WARMUP_SECONDS} s`)
  await drive(RATE, WARMUP_SECONDS)
  await drain(Infinity, 500)

  // 1. delivery at the load
  log(name, `delivery: ${ROOMS} rooms x ${NODES * PER_NODE} clients, ${RATE} edits/s per room, ${SECONDS} s`)
  win = newWindow()
  const calls0 = redis.commandCalls(); const bytes0 = redis.netBytes()
  const cpuBy0 = allPids().map(cpuSeconds)
  const switches0 = allPids().map(contextSwitches)
  const metrics0 = await sys.metrics()
  const client0 = process.cpuUsage()
  const storeCpu0 = sys.extra.store ? cpuSeconds(sys.extra.store.pid) : 0
  const redisSplit0 = cpuSplit(redis.proc.pid)
  const t0 = performance.now()
  const sent = await drive(RATE, SECONDS)
  await drain(sent * readersPerRoom, 5000)
  const wall = (performance.now() - t0) / 1000
  const cpuBy1 = allPids().map(cpuSeconds)
  const switches1 = allPids().map(contextSwitches)
  const metrics1 = await sys.metrics()
  const client1 = process.cpuUsage(client0)
  const calls1 = redis.commandCalls(); const bytes1 = redis.netBytes()
  const cpuNodes = cpuBy1.slice(0, NODES).reduce((s, v, i) => s + v - cpuBy0[i], 0)
  const cpuRedis = cpuBy1[NODES] - cpuBy0[NODES]
  const delivery = summarize(sent, cpuNodes + cpuRedis, wall, win)
  delivery.rooms = ROOMS
  delivery.clients_per_room = NODES * PER_NODE
  delivery.rate_per_room = RATE
  delivery.cpu_nodes_s = cpuNodes
  delivery.cpu_redis_s = cpuRedis
  const redisSplit1 = cpuSplit(redis.proc.pid)
  delivery.cpu_redis_user_s = redisSplit1.user - redisSplit0.user
  delivery.cpu_redis_sys_s = redisSplit1.sys - redisSplit0.sys
  delivery.cpu_per_node_s = cpuBy1.slice(0, NODES).map((v, i) => v - cpuBy0[i])
  delivery.cpu_nodes_us_per_delivery = (cpuNodes * 1e6) / Math.max(1, win.delivered)
  delivery.cpu_redis_us_per_delivery = (cpuRedis * 1e6) / Math.max(1, win.delivered)
  delivery.load_generator_cpu_s = (client1.user + client1.system) / 1e6
  delivery.node_context_switches_per_update = switches1.slice(0, NODES).reduce((s, v, i) => s + v - switches0[i], 0) / Math.max(1, sent)
  delivery.redis_context_switches_per_update = (switches1[NODES] - switches0[NODES]) / Math.max(1, sent)
  if (metrics0 && metrics1) {
    // Updates per append script call (appends close in time share one: --append-delay).
    const sum = (m, k) => Object.values(m).reduce((a, n) => a + (n[k] ?? 0), 0)
    const appends = sum(metrics1, 'tandem_cluster_appends_total') - sum(metrics0, 'tandem_cluster_appends_total')
    const calls = sum(metrics1, 'tandem_cluster_append_calls_total') - sum(metrics0, 'tandem_cluster_append_calls_total')
    if (calls > 0) delivery.updates_per_append_call = appends / calls
  }
  if (sys.extra.store) {
    // Not in the figure above (the sum is nodes + Redis); the saves it took.
    delivery.cpu_store_s = cpuSeconds(sys.extra.store.pid) - storeCpu0
  }
  // Commands per update: every command Redis ran (scripts' inner commands included), minus the
  // one INFO of the first reading.
  const perCommand = {}
  let calls = 0
  for (const [cmd, n] of Object.entries(calls1)) {
    const dn = n - (calls0[cmd] ?? 0) - (cmd === 'info' ? 1 : 0)
    if (dn > 0) { perCommand[cmd] = dn / Math.max(1, sent); calls += dn }
  }
  delivery.redis_commands_per_update = calls / Math.max(1, sent)
  delivery.redis_commands_by_name = Object.fromEntries(Object.entries(perCommand).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number(v.toFixed(3))]))
  delivery.redis_bytes_per_update = (bytes1 - bytes0) / Math.max(1, sent)
  delivery.redis_commands_counted_from = 'INFO commandstats (commands run by scripts included)'

  if (deliveryOnly) {
    for (const r of rooms) { r.writer.terminate(); r.readers.forEach(w => w.terminate()) }
    await sys.stop()
    return { delivery }
  }

  // The same load for a moment more, under MONITOR: requests from clients vs commands in scripts.
  {
    const mon = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), 'MONITOR'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let client = 0; let script = 0; let buf = ''
    const byCmd = {}
    mon.stdout.on('data', (chunk) => {
      buf += chunk
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1)
        const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line)
        if (!m) continue
        const cmd = m[2].toLowerCase()
        if (m[1] === 'lua') script++
        else { client++; byCmd[cmd] = (byCmd[cmd] ?? 0) + 1 }
      }
    })
    await sleep(300)
    win = newWindow()
    const monSent = await drive(RATE, MONITOR_SECONDS)
    await drain(monSent * readersPerRoom, 2000)
    await sleep(200)
    await stop(mon, 'SIGTERM')
    delivery.redis_requests_per_update = client / Math.max(1, monSent)
    delivery.redis_script_commands_per_update = script / Math.max(1, monSent)
    delivery.redis_requests_by_name = Object.fromEntries(Object.entries(byCmd).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number((v / monSent).toFixed(3))]))
  }

  // 2. saturation: double the rate until p99 passes the bound or deliveries fall behind
  const saturation = { p99_bound_ms: SATURATION_P99_MS, step_seconds: STEP_SECONDS, steps: [], held_updates_per_s: 0, held_deliveries_per_s: 0, held_rate_per_room: 0 }
  // The delivery phase is the first step.
  if (delivery.delivered >= delivery.expected && delivery.p99_ms <= SATURATION_P99_MS) {
    saturation.held_updates_per_s = delivery.updates_sent / SECONDS
    saturation.held_deliveries_per_s = delivery.delivered / SECONDS
    saturation.held_rate_per_room = RATE
  }
  for (const rate of STEPS) {
    log(name, `saturation: ${rate} edits/s per room (${rate * ROOMS}/s)`)
    win = newWindow()
    const c0 = sumCpu(allPids())
    const s0 = performance.now()
    const n = await drive(rate, STEP_SECONDS)
    const sendWall = (performance.now() - s0) / 1000
    await drain(n * readersPerRoom, 1000)
    const step = summarize(n, sumCpu(allPids()) - c0, (performance.now() - s0) / 1000, win)
    step.rate_per_room = rate
    step.send_wall_s = sendWall
    step.delivered_per_s = win.delivered / step.wall_s
    const behind = win.delivered < step.expected || sendWall > STEP_SECONDS * 1.1
    step.held = !behind && step.p99_ms <= SATURATION_P99_MS
    saturation.steps.push(step)
    if (!step.held) break
    saturation.held_updates_per_s = n / sendWall
    saturation.held_deliveries_per_s = win.delivered / sendWall
    saturation.held_rate_per_room = rate
    // Let queues empty between steps.
    await sleep(500)
  }

  const metrics = await sys.metrics()
  for (const r of rooms) { r.writer.terminate(); r.readers.forEach(w => w.terminate()) }
  await sys.stop()
  return { delivery, saturation, ...(metrics ? { metrics } : {}) }
}

const results = {
  meta: {
    nodes: NODES,
    clients_per_node_per_room: PER_NODE,
    redis: execFileSync('/usr/bin/redis-server', ['--version'], { encoding: 'utf8' }).trim(),
    redis_config: `appendonly yes, appendfsync ${APPENDFSYNC}, save "", maxmemory-policy noeviction`,
    hocuspocus: hocuspocusVersion,
    extension_redis: redisExtensionVersion,
    node: process.version,
    cores: os.cpus().length,
    tandem_threads: THREADS
  }
}
// The kernel's costs on this machine (bench/loopback_floor.cc, when built): bench/report.mjs
// builds the cluster's floor from them.
const floorBinary = path.resolve(path.dirname(tandemBinary), '../../bench/loopback_floor')
if (fs.existsSync(floorBinary)) {
  try {
    results.meta.kernel_floor = JSON.parse(execFileSync(floorBinary, { encoding: 'utf8', cwd: os.tmpdir() }))
  } catch (err) { log('loopback_floor failed:', String(err?.message ?? err)) }
}
const t00 = performance.now()
try {
  await redis.start()
  const names = ['tandem', 'hocuspocus'].filter(n => !process.env.CLUSTER_ONLY || process.env.CLUSTER_ONLY.split(',').includes(n))
  for (const name of names) {
    try {
      results[name] = await runSystem(name)
    } catch (err) {
      log(name, 'failed:', String(err?.message ?? err))
      results[name] = { error: String(err?.stack ?? err) }
      for (const p of [...children]) if (p !== redis.proc) await stop(p)
      postgres.stop()
    }
  }
  // The delivery phase again, the systems taking turns (T, H, T, H): the machine's load drifts
  // over minutes, and one pair alone can land on either side of a ratio.
  for (let round = 0; round < REPEATS; round++) {
    for (const name of names) {
      if (results[name].error) continue
      try {
        log(name, `delivery again (${round + 2} of ${REPEATS + 1})`)
        const { delivery } = await runSystem(name, { deliveryOnly: true })
        ;(results[name].repeats ??= []).push(delivery)
      } catch (err) {
        log(name, 'repeat failed:', String(err?.message ?? err))
        for (const p of [...children]) if (p !== redis.proc) await stop(p)
        postgres.stop()
      }
    }
  }
} finally {
  await stop(redis.proc)
  postgres.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
}
results.meta.seconds = (performance.now() - t00) / 1000
const json = JSON.stringify(results, null, 2) + '\n'
if (outDir) fs.writeFileSync(path.join(outDir, 'cluster-load.json'), json)
process.stdout.write(json)
