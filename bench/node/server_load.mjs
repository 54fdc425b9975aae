// Server load benchmark: Tandem, the y-websocket server (y-websocket@2 bin/server.cjs) and
// Hocuspocus (@hocuspocus/server 2) under the same load, one after the other in one run.
//
// Phases per server:
//  1. delivery: ROOMS rooms, CLIENTS clients each; one writer per room sends a real yjs update
//     (one keystroke) every 1000/RATE ms. Reports server CPU time (utime+stime from /proc) per
//     delivered update and p50/p99 delivery latency (send -> receipt at another client).
//     Beside it: context switches (all threads, /proc/PID/task/*/status) and system calls (perf stat
//     on raw_syscalls:sys_enter, when perf is installed) per delivered update.
//  1b. saturation (100 rooms x 5 clients): the rate per writer steps up every SAT_STEP_SECONDS until
//     p99 passes 50 ms or deliveries fall behind; the highest step held gives deliveries/s and,
//     divided by the server's CPU cores used in it, deliveries/s per core.
//  2. idle memory: IDLE more connections spread over the rooms, then server RSS growth / IDLE.
//  3. capacity: connections opened in batches (each completes a sync round trip) until MAX_CONN
//     or the first failure; reports the most held at once.
// Clients are raw WebSockets speaking the protocol, so client-side CPU stays small; updates are
// made by yjs beforehand. Prints JSON to stdout. Usage: node server_load.mjs TANDEM_BINARY
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(path.resolve('tests/interop/package.json'))
const WebSocket = require('ws')
const Y = require('yjs')
const encoding = require('lib0/encoding')
const decoding = require('lib0/decoding')
const hocuspocusPath = require.resolve('@hocuspocus/server')
const yWebsocketServer = path.resolve('tests/interop/node_modules/y-websocket/bin/server.cjs')

const env = (name, def) => Number(process.env[name] ?? def)
// Two shapes of load: many small rooms, and fewer rooms with many readers each (fan-out).
const SHAPES = process.env.LOAD_ROOMS
  ? [{ rooms: env('LOAD_ROOMS', 100), clients: env('LOAD_CLIENTS', 5) }]
  : [{ rooms: 100, clients: 5 }, { rooms: 10, clients: 51 }] // clients per room, writer included
const ROOMS = SHAPES[0].rooms
const RATE = env('LOAD_RATE', 10) // updates per second per writer
const SECONDS = env('LOAD_SECONDS', 10)
const IDLE = env('LOAD_IDLE', 2000)
const MAX_CONN = env('LOAD_MAX_CONN', 15000)
const tandemBinary = process.argv[2]

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
const clockTicks = 100 // USER_HZ on Linux
// User and system CPU seconds of a process (all threads).
const cpuSeconds = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(fields[11]) / clockTicks, sys: Number(fields[12]) / clockTicks }
}
const rssBytes = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1]) * 1024
}
// Context switches of every thread of a process, voluntary and not.
const contextSwitches = (pid) => {
  let n = 0
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      for (const m of status.matchAll(/(?:voluntary|nonvoluntary)_ctxt_switches:\s+(\d+)/g)) n += Number(m[1])
    } catch { /* a thread that ended meanwhile */ }
  }
  return n
}
// System calls made by a process while it runs: perf stat on the raw_syscalls tracepoint, and the
// fsyncs among them. stop() resolves { all, fsyncs } (nulls without perf or without the
// permission to trace).
const countSyscalls = (pid) => {
  let child
  const none = { all: null, fsyncs: null }
  try {
    child = spawn('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter,syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch { return { stop: async () => none } }
  let err = ''
  child.stderr.on('data', d => { err += d })
  const exited = new Promise(resolve => { child.once('exit', resolve); child.once('error', () => resolve(null)) })
  return {
    stop: async () => {
      child.kill('SIGINT')
      await exited
      const count = (event) => {
        const m = new RegExp(`^(\\d+),[^,]*,${event}`, 'm').exec(err)
        return m ? Number(m[1]) : null
      }
      const all = count('raw_syscalls:sys_enter')
      const fsync = count('syscalls:sys_enter_fsync')
      const fdatasync = count('syscalls:sys_enter_fdatasync')
      return { all, fsyncs: fsync == null || fdatasync == null ? null : fsync + fdatasync }
    }
  }
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

// --- the three servers -------------------------------------------------------------------------

const freePort = async () => {
  const net = await import('node:net')
  return new Promise(resolve => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address(); s.close(() => resolve(port))
    })
  })
}

const waitListening = async (port) => {
  for (let i = 0; i < 400; i++) {
    try { await fetch(`http://127.0.0.1:${port}/`); return } catch { await sleep(25) }
  }
  throw new Error(`server on ${port} did not start`)
}

const tandem = (extraArgs, binary = tandemBinary) => async (port) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-load-'))
  return spawn(binary, ['serve', '--host', '127.0.0.1', '--port', String(port),
    '--data-dir', dataDir, '--log-level', 'error', '--max-connections-per-room', '20000',
    ...extraArgs, ...(process.env.TANDEM_ARGS ?? '').split(' ').filter(Boolean)],
  { stdio: ['ignore', 'ignore', 'inherit'] })
}
// Servers measured only for delivery (their memory and capacity are their base server's).
const deliveryOnly = new Set(['tandem-normal'])
const servers = {
  tandem: tandem([]),
  // Without fsync (survives a crash of the process, not of the machine): the cost of durability.
  'tandem-normal': tandem(['--durability', 'normal']),
  'y-websocket': async (port) => spawn(process.execPath, [yWebsocketServer],
    { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }),
  hocuspocus: async (port) => spawn(process.execPath, ['--input-type=module', '-e', `
    import { Server } from ${JSON.stringify(hocuspocusPath)}
    const server = Server.configure({ port: ${port}, address: '127.0.0.1', quiet: true })
    await server.listen()`], { stdio: ['ignore', 'ignore', 'inherit'] })
}
// Other builds of Tandem measured in the same run (before/after a change):
// TANDEM_COMPARE="before=/path/to/tandem,other=/path" adds servers "tandem@before", ...
for (const entry of (process.env.TANDEM_COMPARE ?? '').split(',').filter(Boolean)) {
  const [label, binary] = entry.split('=')
  servers[`tandem@${label}`] = tandem([], binary)
}

// --- protocol framing: y-websocket (room in the URL) and Hocuspocus (room name in each message) --

import { framing, rawConnect, syncStep1, updateMessage } from './wire.mjs'

// A raw client: sends sync step 1, resolves once the server's step 2 (or any sync answer) came.
// onUpdate(n) is called for each update broadcast received (outer 0, inner 2).
const connect = (frame, port, room, onUpdate) => new Promise((resolve, reject) => {
  const ws = new WebSocket(frame.url(port, room), { perMessageDeflate: false })
  ws.binaryType = 'nodebuffer'
  let ready = false
  const timer = setTimeout(() => { if (!ready) { ws.terminate(); reject(new Error('sync timeout')) } }, 30000)
  ws.on('open', () => {
    for (const m of frame.open(room)) ws.send(m)
    ws.send(frame.wrap(room, syncStep1))
  })
  ws.on('message', (data) => {
    const d = frame.unwrap(new Uint8Array(data))
    if (decoding.readVarUint(d) !== 0) return
    const step = decoding.readVarUint(d)
    if (step === 1 && !ready) { ready = true; clearTimeout(timer); resolve(ws) }
    if (step === 2 && onUpdate) onUpdate()
  })
  ws.on('error', (err) => { if (!ready) { clearTimeout(timer); reject(err) } })
  ws.on('close', () => { if (!ready) { clearTimeout(timer); reject(new Error('closed before sync')) } })
})

// One keystroke per update, as a writer's yjs doc produces them.
const makeUpdates = (count) => {
  const doc = new Y.Doc()
  const updates = []
  doc.on('update', u => updates.push(updateMessage(u)))
  const text = doc.getText('text')
  for (let i = 0; i < count; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  return updates
}

// --- phases --------------------------------------------------------------------------------------

async function delivery (frame, port, pid, ROOMS, CLIENTS) {
  const perWriter = RATE * SECONDS
  const updates = makeUpdates(perWriter)
  const latencies = []
  let delivered = 0
  const rooms = []
  for (let r = 0; r < ROOMS; r++) {
    const room = `load-${ROOMS}x${CLIENTS}-${r}`
    const sent = []
    const receivers = []
    for (let c = 1; c < CLIENTS; c++) {
      let seen = 0
      receivers.push(await connect(frame, port, room, () => {
        latencies.push(performance.now() - sent[seen++]); delivered++
      }))
    }
    const writer = await connect(frame, port, room)
    rooms.push({ room, writer, sent, receivers })
  }
  await sleep(500)
  const cpu0 = cpuSeconds(pid)
  const switches0 = contextSwitches(pid)
  const syscalls = countSyscalls(pid)
  await sleep(100) // perf attached
  const t0 = performance.now()
  const interval = 1000 / RATE
  // Writers are staggered over the interval so the load is steady.
  await Promise.all(rooms.map(async ({ room, writer, sent }, i) => {
    await sleep((i * interval) / ROOMS)
    for (let k = 0; k < perWriter; k++) {
      const due = t0 + (i * interval) / ROOMS + k * interval
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      sent.push(performance.now())
      writer.send(frame.wrap(room, updates[k]))
    }
  }))
  const expected = ROOMS * (CLIENTS - 1) * perWriter
  const deadline = performance.now() + 10000
  while (delivered < expected && performance.now() < deadline) await sleep(20)
  const cpu1 = cpuSeconds(pid)
  const switches = contextSwitches(pid) - switches0
  const syscallCount = await syscalls.stop()
  const user = cpu1.user - cpu0.user
  const cpu = user + cpu1.sys - cpu0.sys
  const wall = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  for (const r of rooms) { r.writer.terminate(); r.receivers.forEach(w => w.terminate()) }
  return {
    rooms: ROOMS,
    clients_per_room: CLIENTS,
    updates_sent: ROOMS * perWriter,
    delivered,
    expected,
    wall_s: wall,
    cpu_s: cpu,
    cpu_us_per_delivery: (cpu * 1e6) / Math.max(1, delivered),
    user_cpu_us_per_delivery: (user * 1e6) / Math.max(1, delivered),
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    context_switches_per_delivery: switches / Math.max(1, delivered),
    syscalls_per_delivery: syscallCount.all == null ? null : syscallCount.all / Math.max(1, delivered),
    fsyncs_per_delivery: syscallCount.fsyncs == null ? null : syscallCount.fsyncs / Math.max(1, delivered)
  }
}

// Saturation: one writer per room sends at a rate that steps up; each step is held when its
// deliveries all arrive and their p99 stays within the bound. Sending is paced by one loop over
// every writer (not a timer per update) and the clients are bare sockets (wire.mjs rawConnect),
// so the load generator stays cheap at high rates; cheaper still, the native one below.
const SAT_ROOMS = env('SAT_ROOMS', 100)
const SAT_CLIENTS = env('SAT_CLIENTS', 5)
const SAT_STEPS = (process.env.SAT_STEPS ?? '10,20,40,60,80,100,120,160,200,240,280,320,400,480,560,640,800,960,1280').split(',').map(Number).filter(n => n > 0)
const SAT_STEP_SECONDS = env('SAT_STEP_SECONDS', 4)
const SAT_P99_MS = 50
// The native load generator (bench/load_generator.cc), when built beside the Tandem binary or
// named by LOAD_GENERATOR ('node' keeps the Node one): it uses a fraction of the Node client's
// CPU, which shares the machine's cores with the server under test.
const nativeGenerator = (() => {
  const named = process.env.LOAD_GENERATOR
  if (named === 'node') return null
  const candidate = named ?? path.resolve(path.dirname(tandemBinary ?? '.'), '../../bench/load_generator')
  return fs.existsSync(candidate) ? candidate : null
})()
async function saturation (frame, port, pid) {
  const total = SAT_STEPS.reduce((sum, r) => sum + Math.ceil(r * SAT_STEP_SECONDS), 0)
  const updates = makeUpdates(total)
  if (nativeGenerator) return nativeSaturation(frame, port, pid, updates)
  const rooms = []
  let win = null
  for (let r = 0; r < SAT_ROOMS; r++) {
    const room = `sat-${r}`
    const entry = { room, sent: new Float64Array(total), next: 0, writer: null, receivers: [] }
    for (let c = 1; c < SAT_CLIENTS; c++) {
      let seen = 0
      entry.receivers.push(await rawConnect(frame, port, room, () => {
        const k = seen++
        if (win && k >= win.since[r]) { win.latencies.push(performance.now() - entry.sent[k]); win.delivered++ }
      }))
    }
    entry.writer = await rawConnect(frame, port, room)
    rooms.push(entry)
  }
  await sleep(500)
  const steps = []
  let held = null
  for (const rate of SAT_STEPS) {
    const interval = 1000 / rate
    const perRoom = Math.ceil(rate * SAT_STEP_SECONDS)
    win = { latencies: [], delivered: 0, since: rooms.map(r => r.next) }
    const cpu0 = cpuSeconds(pid)
    const own0 = process.cpuUsage()
    const t0 = performance.now()
    let sent = 0
    for (;;) {
      const now = performance.now()
      let left = false
      for (let i = 0; i < rooms.length; i++) {
        const e = rooms[i]
        const done = () => e.next - win.since[i]
        const offset = (i * interval) / rooms.length
        while (done() < perRoom && t0 + offset + done() * interval <= now) {
          const k = e.next++
          e.sent[k] = performance.now()
          e.writer.send(frame.wrap(e.room, updates[k]))
          sent++
        }
        if (done() < perRoom) left = true
      }
      if (!left) break
      await sleep(1)
    }
    const sendWall = (performance.now() - t0) / 1000
    const expected = sent * (SAT_CLIENTS - 1)
    const deadline = performance.now() + 1000
    while (win.delivered < expected && performance.now() < deadline) await sleep(5)
    const wall = (performance.now() - t0) / 1000
    const cpu1 = cpuSeconds(pid)
    const cpu = cpu1.user - cpu0.user + cpu1.sys - cpu0.sys
    win.latencies.sort((a, b) => a - b)
    const step = {
      rate_per_writer: rate,
      updates_per_s: sent / sendWall,
      delivered: win.delivered,
      expected,
      deliveries_per_s: win.delivered / wall,
      server_cores: cpu / wall,
      load_generator_cores: (() => { const u = process.cpuUsage(own0); return (u.user + u.system) / 1e6 / wall })(),
      cpu_us_per_delivery: (cpu * 1e6) / Math.max(1, win.delivered),
      p50_ms: percentile(win.latencies, 0.5) ?? null,
      p99_ms: percentile(win.latencies, 0.99) ?? null
    }
    step.deliveries_per_s_per_core = step.deliveries_per_s / Math.max(1e-9, step.server_cores)
    step.held = win.delivered >= expected && sendWall <= SAT_STEP_SECONDS * 1.1 && step.p99_ms <= SAT_P99_MS
    steps.push(step)
    process.stderr.write(`server-load: saturation ${rate}/s per writer: ${Math.round(step.deliveries_per_s)} deliveries/s, ${step.server_cores.toFixed(2)} cores (load generator ${step.load_generator_cores.toFixed(2)}), p99 ${step.p99_ms?.toFixed(1)} ms${step.held ? '' : ' (not held)'}\n`)
    if (!step.held) break
    held = step
    await sleep(500)
  }
  win = null
  for (const r of rooms) { r.writer.terminate(); r.receivers.forEach(w => w.terminate()) }
  await sleep(500)
  return { rooms: SAT_ROOMS, clients_per_room: SAT_CLIENTS, step_seconds: SAT_STEP_SECONDS, p99_bound_ms: SAT_P99_MS, steps, held }
}

async function nativeSaturation (frame, port, pid, updates) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-sat-')), 'updates.bin')
  const parts = []
  for (const u of updates) {
    const len = Buffer.alloc(4); len.writeUInt32LE(u.length); parts.push(len, Buffer.from(u))
  }
  fs.writeFileSync(file, Buffer.concat(parts))
  const child = spawn(nativeGenerator, ['--port', String(port), '--pid', String(pid), '--updates', file,
    '--rooms', String(SAT_ROOMS), '--clients', String(SAT_CLIENTS), '--steps', SAT_STEPS.join(','),
    '--step-seconds', String(SAT_STEP_SECONDS), '--p99-ms', String(SAT_P99_MS),
    ...(frame === framing.hocuspocus ? ['--hocuspocus'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  const code = await new Promise(resolve => child.once('exit', resolve))
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
  if (code !== 0) throw new Error(`load_generator exited with ${code}`)
  await sleep(500)
  return JSON.parse(out)
}

async function idleMemory (frame, port, pid) {
  await sleep(1000)
  const before = rssBytes(pid)
  const sockets = []
  for (let i = 0; i < IDLE; i += 100) {
    const batch = []
    for (let j = i; j < Math.min(IDLE, i + 100); j++) batch.push(connect(frame, port, `idle-${j % ROOMS}`))
    sockets.push(...await Promise.all(batch))
  }
  await sleep(2000)
  const after = rssBytes(pid)
  sockets.forEach(s => s.terminate())
  return { connections: IDLE, rss_before: before, rss_after: after, bytes_per_connection: (after - before) / IDLE }
}

async function capacity (frame, port, pid) {
  const sockets = []
  let error = null
  const t0 = performance.now()
  while (sockets.length < MAX_CONN) {
    const n = Math.min(500, MAX_CONN - sockets.length)
    const batch = []
    for (let j = 0; j < n; j++) batch.push(connect(frame, port, `cap-${(sockets.length + j) % 100}`))
    const results = await Promise.allSettled(batch)
    for (const r of results) if (r.status === 'fulfilled') sockets.push(r.value)
    const failed = results.find(r => r.status === 'rejected')
    if (failed) { error = String(failed.reason?.message ?? failed.reason); break }
  }
  const held = sockets.filter(s => s.readyState === WebSocket.OPEN).length
  const rss = rssBytes(pid)
  sockets.forEach(s => s.terminate())
  return { target: MAX_CONN, held, rss_at_peak: rss, seconds: (performance.now() - t0) / 1000, error }
}

const results = {}
for (const [name, start] of Object.entries(servers).filter(([n]) => !process.env.LOAD_ONLY || process.env.LOAD_ONLY.split(',').includes(n))) {
  const port = await freePort()
  const proc = await start(port)
  const frame = name === 'hocuspocus' ? framing.hocuspocus : framing.plain
  try {
    await waitListening(port)
    process.stderr.write(`server-load: ${name}: delivery\n`)
    const d = []
    for (const shape of SHAPES) d.push(await delivery(frame, port, proc.pid, shape.rooms, shape.clients))
    let sat = null
    if (process.env.LOAD_SATURATION !== '0') {
      process.stderr.write(`server-load: ${name}: saturation\n`)
      sat = await saturation(frame, port, proc.pid)
    }
    if (deliveryOnly.has(name)) { results[name] = { delivery: d, saturation: sat }; continue }
    process.stderr.write(`server-load: ${name}: idle memory\n`)
    const m = await idleMemory(frame, port, proc.pid)
    process.stderr.write(`server-load: ${name}: capacity\n`)
    const c = await capacity(frame, port, proc.pid)
    results[name] = { delivery: d, saturation: sat, idle: m, capacity: c }
  } catch (err) {
    results[name] = { error: String(err?.stack ?? err) }
  } finally {
    proc.kill('SIGKILL')
    await new Promise(resolve => proc.once('exit', resolve))
  }
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n')
