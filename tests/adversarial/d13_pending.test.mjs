// D13 (issue #17): updates waiting on missing structs were re-merged with the whole pending set on
// every update, and each was logged again: 2,000 such 1 KB updates took 5.5 s (release) and
// 13 MB of log; there was no cap on pending structs (--max-pending-size, default 4MiB -> 4413).
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, openSocket, syncAnswer, closeWithin, updateMessage,
  stringItemUpdate, dirBytes, freshJoin, missingFlags, LIMIT_CLOSE, PROBE_BOUND_MS, sleep
} from './lib.mjs'

const UPDATES = Number(process.env.TANDEM_ADV_D13_UPDATES ?? 2000)
const ITEM_CHARS = 1000
const TIME_BOUND_MS = 5000
const LOG_OUTPUT_BOUND_BYTES = 64 * 1024
const DATA_DIR_BOUND_BYTES = 16 * 1024 * 1024 // the raw updates are 2 MB

// Update k: one 1 KB item of client 555 at clock 1,000,000 + k * 2,000 (clocks 0.. are missing,
// so every one waits; the gaps keep them from joining into one run).
const pendingUpdate = (k) => stringItemUpdate({ client: 555, clock: 1000000 + k * 2000, text: String.fromCharCode(97 + (k % 26)).repeat(ITEM_CHARS) })

test(`${UPDATES} updates of ~1 KB whose dependencies are missing: processed within ${TIME_BOUND_MS} ms, small logs`, { timeout: 180000 }, async () => {
  const c = new Checks('D13')
  const server = await startServe({ args: ['--threads', '1'] })
  let probe
  try {
    probe = await Probe.start(server)
    const updates = Array.from({ length: UPDATES }, (_, k) => updateMessage(pendingUpdate(k)))
    const dirBefore = dirBytes(server.dataDir)
    const outBefore = server.outputBytes
    const linesBefore = server.outputLines
    const r = await openSocket(`${server.ws}/pending`)
    probe.loop(100, 30000)
    const t0 = performance.now()
    for (const u of updates) r.socket.send(u)
    const done = await syncAnswer(r, { timeoutMs: 120000 })
    const ms = performance.now() - t0
    const probeMax = await probe.stopLoop()
    await sleep(500) // group commit settles
    const dirAfter = dirBytes(server.dataDir)
    const outBytes = server.outputBytes - outBefore
    const join = await freshJoin(server, 'pending')
    figure('D13', 'processing_ms', done ? ms : `no answer within 120 s (closed: ${JSON.stringify(r.closed)})`)
    figure('D13', 'log_output', `${outBytes} bytes, ${server.outputLines - linesBefore} lines`)
    figure('D13', 'data_dir_mb', `${(dirBefore / 1e6).toFixed(2)} -> ${(dirAfter / 1e6).toFixed(2)} (raw updates ${(updates.reduce((n, u) => n + u.length, 0) / 1e6).toFixed(2)} MB)`)
    figure('D13', 'probe_max_ms', probeMax)
    figure('D13', 'sender_closed', JSON.stringify(r.closed))
    figure('D13', 'server', server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.check(done !== null, `all ${UPDATES} updates processed, sender not refused (2 MB is under the default 4 MiB of pending; closed: ${JSON.stringify(r.closed)})`)
    c.atMost('processing time (ms)', done ? ms : Infinity, TIME_BOUND_MS)
    c.atMost('server log output (bytes)', outBytes, LOG_OUTPUT_BOUND_BYTES)
    c.atMost('data dir growth (bytes)', dirAfter - dirBefore, DATA_DIR_BOUND_BYTES)
    c.atMost('probe edit in another room (ms)', probeMax, PROBE_BOUND_MS)
    c.check(join.ok, 'a fresh join of the room syncs')
  } finally {
    probe?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
})

test(`--max-pending-size 256KiB: pending structs past it -> ${LIMIT_CLOSE}`, { timeout: 180000 }, async () => {
  const c = new Checks('D13')
  const server = await startServe({ args: ['--threads', '1', '--max-pending-size', '256KiB'] })
  try {
    const r = await openSocket(`${server.ws}/pending-cap`)
    const t0 = performance.now()
    for (let k = 0; k < 600; k++) r.socket.send(updateMessage(pendingUpdate(k))) // 600 KB
    const closed = await closeWithin(r, 60000)
    figure('D13', 'cap.close', closed ? `${closed.code} "${closed.reason}" after ${Math.round(performance.now() - t0)} ms` : 'none within 60 s')
    c.check(missingFlags('serve', ['--max-pending-size']).length === 0, 'serve has --max-pending-size')
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.equal('close code of the sender', closed?.code, LIMIT_CLOSE)
    c.check(closed?.reason?.startsWith('limit:') ?? false, `close reason starts with "limit:" (got ${JSON.stringify(closed?.reason)})`)
  } finally {
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
})
