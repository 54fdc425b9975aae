// D4 (issue #17): query-awareness amplification. Each 1-byte query (type 3) re-encoded every
// awareness state for the sender: with 4 MB of states, 2,000 queries (14 KB) kept the room busy
// 21 s. And no state had a size cap.
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, openSocket, rawWs, wsFrame, closeWithin, awarenessMessage,
  queryAwarenessMessage, RssSampler, LIMIT_CLOSE, PROBE_BOUND_MS, sleep
} from './lib.mjs'

const QUERIES = Number(process.env.TANDEM_ADV_D4_QUERIES ?? 2000)
// 8 connections each set 16 states (the per-connection limit) of 60 KB (under the 64 KiB
// per-state limit): 7.9 MB of awareness in the room, every state within the new limits.
const SETTERS = Number(process.env.TANDEM_ADV_D4_SETTERS ?? 8)
const STATES_PER_SETTER = Number(process.env.TANDEM_ADV_D4_STATES_PER_SETTER ?? 16)
const STATE_BYTES = 60 * 1024
const RSS_GROWTH_BOUND_MB = 200
const WATCH_MS = 10000

const bigState = (tag) => ({ user: tag, blob: 'x'.repeat(STATE_BYTES - 40) })

const amplification = (reads) => async () => {
  const tag = reads ? 'reading' : 'never_reads'
  const c = new Checks('D4')
  const server = await startServe({ args: ['--threads', '1'] })
  let same, other, rawAttacker
  const sockets = []
  try {
    for (let s = 0; s < SETTERS; s++) {
      const r = await openSocket(`${server.ws}/aware`)
      sockets.push(r)
      const states = []
      for (let k = 0; k < STATES_PER_SETTER; k++) states.push({ client: 1000 + s * 100 + k, clock: 1, state: bigState(`s${s}k${k}`) })
      r.socket.send(awarenessMessage(states))
    }
    await sleep(1000)
    const refusedSetters = sockets.filter(r => r.closed).map(r => r.closed)
    c.check(refusedSetters.length === 0, `setting ${STATES_PER_SETTER} states of ${STATE_BYTES} bytes per connection is accepted (closed: ${JSON.stringify(refusedSetters)})`)
    same = await Probe.start(server, 'aware') // a probe in the attacked room (it receives the states on join)
    other = await Probe.start(server)
    await sleep(500)
    const before = server.stats()
    const rss = new RssSampler(server)
    same.loop(100, 60000)
    other.loop(100, 60000)

    // Raw TCP: the queries go out in one write (read by the server in one go); the attacker
    // never reads, or reads (and drops) every answer as fast as it comes.
    const attacker = await rawWs(server.port, '/aware')
    rawAttacker = attacker
    let receivedBytes = 0
    if (reads) {
      attacker.sock.removeAllListeners('data')
      attacker.sock.on('data', (d) => { receivedBytes += d.length })
    } else attacker.sock.pause()
    const query = wsFrame(0x2, queryAwarenessMessage())
    const t0 = performance.now()
    attacker.sock.write(Buffer.concat(Array.from({ length: QUERIES }, () => query)))
    while (performance.now() - t0 < WATCH_MS && server.alive()) await sleep(250)
    const after = server.stats()
    attacker.sock.destroy()
    await sleep(1000)
    const sameMax = await same.stopLoop()
    const otherMax = await other.stopLoop()
    const peak = rss.stop()
    const growth = peak - before.rssMB
    if (reads) figure('D4', `${tag}.attacker_received_mb`, receivedBytes / 1e6)
    figure('D4', `${tag}.rss_mb`, `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}`)
    figure('D4', `${tag}.rss_growth_mb`, growth)
    figure('D4', `${tag}.cpu_s`, after ? after.cpuS - before.cpuS : 'n/a')
    figure('D4', `${tag}.probe_same_room_max_ms`, sameMax)
    figure('D4', `${tag}.probe_other_room_max_ms`, otherMax)
    figure('D4', `${tag}.server`, server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.atMost('server RSS growth (MB)', growth, RSS_GROWTH_BOUND_MB, ' MB')
    c.atMost('probe edit in the attacked room (ms)', sameMax, PROBE_BOUND_MS)
    c.atMost('probe edit in another room (ms)', otherMax, PROBE_BOUND_MS)
  } finally {
    for (const r of sockets) r.socket.terminate()
    rawAttacker?.sock.destroy()
    same?.destroy()
    other?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
}

test(`${SETTERS * STATES_PER_SETTER} awareness states of 60 KB, then ${QUERIES} query-awareness from a connection that never reads: room responsive, RSS bounded`,
  { timeout: 180000 }, amplification(false))

// The same queries from a connection that reads every answer: nothing queues up, so the server
// must not spend its thread encoding the whole awareness once per query.
test(`${SETTERS * STATES_PER_SETTER} awareness states of 60 KB, then ${QUERIES} query-awareness from a connection that reads: room responsive`,
  { timeout: 180000 }, amplification(true))

test(`one awareness state over 64 KiB -> ${LIMIT_CLOSE}, not kept`, { timeout: 60000 }, async () => {
  const c = new Checks('D4')
  const server = await startServe({ args: ['--threads', '1'] })
  const sockets = []
  try {
    const r = await openSocket(`${server.ws}/aware-big`)
    sockets.push(r)
    r.socket.send(awarenessMessage([{ client: 77, clock: 1, state: { blob: 'y'.repeat(70 * 1024) } }]))
    const closed = await closeWithin(r, 10000)
    // A later joiner must not be sent the refused state.
    const watcher = await openSocket(`${server.ws}/aware-big`)
    sockets.push(watcher)
    await sleep(1000)
    const received = watcher.messages.reduce((n, m) => n + m.length, 0)
    figure('D4', 'oversized_state.close', closed ? `${closed.code} "${closed.reason}"` : 'none within 10 s')
    figure('D4', 'oversized_state.joiner_received_bytes', received)
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.equal('close code of the sender', closed?.code, LIMIT_CLOSE)
    c.check(closed?.reason?.startsWith('limit:') ?? false, `close reason starts with "limit:" (got ${JSON.stringify(closed?.reason)})`)
    c.atMost('bytes a later joiner receives (the refused state is not kept)', received, 1024)
  } finally {
    for (const r of sockets) r.socket.terminate()
    await server.stop()
    server.cleanup()
  }
  c.done()
})
