// D2 (issue #17): decoding was quadratic in client groups. An update of 320,000 one-struct
// clients (~2.2 MB) held a worker thread 27 s (every room on it stalled), and SIGTERM during it
// logged "shutdown complete" without the process exiting.
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, openSocket, closeWithin, syncAnswer, freshJoin, updateMessage,
  manyClientsUpdate, missingFlags, LIMIT_CLOSE, PROBE_BOUND_MS, RssSampler, sleep
} from './lib.mjs'

const CLIENTS = Number(process.env.TANDEM_ADV_D2_CLIENTS ?? 320000)
const REFUSE_BOUND_MS = 5000
const APPLY_BOUND_MS = 10000
// While the 320,000 clients are applied on the only worker thread (--threads 1), the probe room
// waits for it by construction: its bound is the apply's, not the usual probe bound. (Fixed
// debug build: ~5 s for both; old release 11.7 s, old debug > 30 s.)
const APPLY_PROBE_BOUND_MS = Math.max(PROBE_BOUND_MS, Number(process.env.TANDEM_ADV_D2_PROBE_BOUND_MS ?? APPLY_BOUND_MS))
const SHUTDOWN_TIMEOUT_S = 2

const update = manyClientsUpdate(CLIENTS)

test(`default limits: an update of ${CLIENTS} client groups (${(update.length / 1e6).toFixed(1)} MB) -> ${LIMIT_CLOSE} quickly, other rooms answer`, { timeout: 120000 }, async () => {
  const c = new Checks('D2')
  const server = await startServe({ args: ['--threads', '1', '--max-message-size', '64MiB', '--shutdown-timeout', `${SHUTDOWN_TIMEOUT_S}s`] })
  let probe
  try {
    probe = await Probe.start(server)
    const r = await openSocket(`${server.ws}/many-default`)
    probe.loop(100, 15000)
    const t0 = performance.now()
    r.socket.send(updateMessage(update))
    const closed = await closeWithin(r, 15000)
    const closeMs = performance.now() - t0
    await sleep(300)
    const probeMax = await probe.stopLoop()
    figure('D2', 'default.close', closed ? `${closed.code} "${closed.reason}" after ${Math.round(closeMs)} ms` : 'none within 15 s')
    figure('D2', 'default.probe_max_ms', probeMax)
    figure('D2', 'default.server', server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.equal('close code of the sender', closed?.code, LIMIT_CLOSE)
    c.check(closed?.reason?.startsWith('limit:') ?? false, `close reason starts with "limit:" (got ${JSON.stringify(closed?.reason)})`)
    c.atMost('time to the refusal (ms)', closed ? closeMs : Infinity, REFUSE_BOUND_MS)
    c.atMost('probe edit in another room (ms)', probeMax, PROBE_BOUND_MS)
  } finally {
    probe?.destroy()
    await server.stop({ graceMs: 8000 })
    server.cleanup()
  }
  c.done()
})

test(`--max-clients-per-update 1000000: ${CLIENTS} client groups are applied within ${APPLY_BOUND_MS} ms; SIGTERM then exits promptly`, { timeout: 180000 }, async () => {
  const c = new Checks('D2')
  const server = await startServe({
    args: ['--threads', '1', '--max-message-size', '64MiB', '--max-clients-per-update', '1000000', '--shutdown-timeout', `${SHUTDOWN_TIMEOUT_S}s`]
  })
  let probe
  try {
    probe = await Probe.start(server)
    const before = server.stats()
    const rss = new RssSampler(server)
    const r = await openSocket(`${server.ws}/many-high`)
    probe.loop(100, 15000)
    const t0 = performance.now()
    r.socket.send(updateMessage(update))
    const applied = await syncAnswer(r, { timeoutMs: 30000 })
    const applyMs = performance.now() - t0
    const probeMax = await probe.stopLoop()
    const join = applied && server.alive() ? await freshJoin(server, 'many-high', 30000) : { ok: false }
    const peak = rss.stop()
    const cpu = server.stats()
    const state = server.describeDeath()
    // SIGTERM right away (the old binary is still decoding here).
    const stop = await server.stop({ graceMs: 20000 })
    figure('D2', 'high.apply_ms', applied ? applyMs : `not applied within 30 s (closed: ${JSON.stringify(r.closed)})`)
    figure('D2', 'high.probe_max_ms', probeMax)
    figure('D2', 'high.fresh_join', JSON.stringify(join))
    figure('D2', 'high.rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}`)
    figure('D2', 'high.cpu_s', cpu ? (cpu.cpuS - before.cpuS) : 'n/a')
    figure('D2', 'high.sigterm', `${stop.killed ? 'did not exit within 20 s, SIGKILLed' : `exited ${JSON.stringify({ code: stop.code, signal: stop.signal })} after ${stop.ms} ms`}`)
    c.check(missingFlags('serve', ['--max-clients-per-update']).length === 0, 'serve has --max-clients-per-update')
    c.equal('serve alive before the SIGTERM', state, 'alive')
    c.check(!r.closed || r.closed.code !== LIMIT_CLOSE, `not refused under a limit of 1,000,000 (closed: ${JSON.stringify(r.closed)})`)
    c.atMost('apply time (ms)', applied ? applyMs : Infinity, APPLY_BOUND_MS)
    c.check(join.ok && join.bytes >= update.length / 2, `a fresh join gets the applied clients (${JSON.stringify(join)})`)
    c.atMost('probe edit in another room on the same (single) worker thread (ms)', probeMax, APPLY_PROBE_BOUND_MS)
    c.check(!stop.killed, `SIGTERM: exited without SIGKILL (${stop.ms} ms)`)
    c.atMost('SIGTERM to exit (ms)', stop.ms, SHUTDOWN_TIMEOUT_S * 1000 + 5000)
  } finally {
    probe?.destroy()
    await server.stop({ graceMs: 1000 })
    server.cleanup()
  }
  c.done()
})
