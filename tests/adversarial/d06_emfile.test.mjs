// D6 (issue #17): with the descriptor limit reached, the accept loop logged "accept failed" and
// retried at once: 812k log lines (57 MB) and a full core in 5 s. It must back off, keep a
// margin of descriptors, refuse what is over its budget cleanly, and accept again afterwards.
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, WebSocket, wsClient, synced, destroyAll, sleep, PROBE_BOUND_MS
} from './lib.mjs'

const NOFILE = 256
const CONNECTIONS = Number(process.env.TANDEM_ADV_D6_CONNECTIONS ?? 400)
const SATURATED_MS = 5000
const CPU_BOUND_S = 1
const ACCEPT_LOG_LINES_BOUND = 100

const connect = (url) => new Promise((resolve) => {
  const ws = new WebSocket(url, { handshakeTimeout: 30000 })
  const r = { ws, opened: false, closed: null, error: null }
  ws.on('open', () => { r.opened = true; resolve(r) })
  ws.on('close', (code, reason) => { r.closed = { code, reason: reason.toString() }; resolve(r) })
  ws.on('error', (e) => { r.error = e.code ?? e.message })
  ws.on('message', () => {})
  r.settled = new Promise(res => { ws.on('close', res) })
  setTimeout(() => resolve(r), 3000) // still pending (in the listen backlog)
})

test(`--nofile ${NOFILE}: ${CONNECTIONS} WebSocket connections -> no spinning, small log, clean refusals, accepting again afterwards`, { timeout: 180000 }, async () => {
  const c = new Checks('D6')
  const server = await startServe({ nofile: NOFILE, args: ['--threads', '1'] })
  const conns = []
  let probe
  try {
    probe = await Probe.start(server)
    const fdsBefore = server.fdCount()
    const linesBefore = server.outputLines
    for (let i = 0; i < CONNECTIONS; i++) conns.push(connect(`${server.ws}/flood-${i % 20}`))
    const results = await Promise.all(conns)
    // Saturated: measure CPU and the log over SATURATED_MS.
    const s0 = server.stats()
    const l0 = server.outputLines
    const b0 = server.outputBytes
    probe.loop(100, 10000)
    await sleep(SATURATED_MS)
    const probeMax = await probe.stopLoop()
    const s1 = server.stats()
    const cpu = s1 && s0 ? s1.cpuS - s0.cpuS : NaN
    const logLines = server.outputLines - l0
    const logBytes = server.outputBytes - b0
    const acceptLines = server.acceptMentions
    const opened = results.filter(r => r.opened && !r.closed).length
    const refusedCodes = {}
    for (const r of results) if (r.closed) refusedCodes[r.closed.code] = (refusedCodes[r.closed.code] ?? 0) + 1
    const pending = results.filter(r => !r.opened && !r.closed).length
    const fdsSaturated = server.fdCount()
    // The flood leaves.
    for (const r of results) r.ws.terminate()
    await sleep(1000)
    const t0 = performance.now()
    let rejoin = null
    if (server.alive()) {
      const c2 = wsClient(server, 'after-flood')
      try { await synced(c2.provider, 'a join after the flood'); rejoin = performance.now() - t0 } catch {}
      destroyAll(c2)
    }
    figure('D6', 'connections', `opened ${opened}, closed by the server ${JSON.stringify(refusedCodes)}, still pending after 3 s ${pending}`)
    figure('D6', 'fds', `${fdsBefore} before, ${fdsSaturated} saturated (limit ${NOFILE})`)
    figure('D6', 'cpu_s_while_saturated', `${cpu.toFixed(2)} over ${SATURATED_MS / 1000} s`)
    figure('D6', 'log_while_saturated', `${logLines} lines, ${(logBytes / 1e6).toFixed(2)} MB over ${SATURATED_MS / 1000} s; mentions of accept in the whole log ${acceptLines} (total lines ${server.outputLines - linesBefore})`)
    figure('D6', 'probe_max_ms', probeMax)
    figure('D6', 'rejoin_ms', rejoin ?? 'failed')
    figure('D6', 'server', server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.atMost('CPU time while saturated (s)', cpu, CPU_BOUND_S, ' s')
    c.atMost('log mentions of accept', acceptLines, ACCEPT_LOG_LINES_BOUND)
    c.atMost('log lines while saturated', logLines, ACCEPT_LOG_LINES_BOUND)
    const badCodes = Object.keys(refusedCodes).filter(code => !['4429', '1006', '1001', '1013'].includes(code))
    c.check(badCodes.length === 0, `connections over the budget are refused with 4429 or a TCP close (close codes seen: ${JSON.stringify(refusedCodes)})`)
    c.atMost('probe edit in another room while saturated (ms)', probeMax, PROBE_BOUND_MS)
    c.check(rejoin !== null, 'a new connection is accepted and syncs after the flood')
  } finally {
    for (const r of await Promise.all(conns)) r.ws.terminate()
    probe?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
})
