// D8 (issue #17): awareness memory was unbounded: per-client metadata was never pruned and a
// connection could set any number of states (5 messages of 1,000,000 null entries: +277 MB,
// kept while the room is loaded). Over --max-awareness-states (default 16) -> 4413.
import { test } from 'node:test'
import { Checks, figure, startServe, Probe, openSocket, closeWithin, encoding, RssSampler, LIMIT_CLOSE, PROBE_BOUND_MS, sleep } from './lib.mjs'

const MESSAGES = 5
const ENTRIES = Number(process.env.TANDEM_ADV_D8_ENTRIES ?? 1000000)
const RSS_GROWTH_BOUND_MB = 150 // the five 9 MB messages may legitimately be buffered at once

// [1, awareness update] with `n` entries of clients first..first+n-1, clock 1, state null.
const nullStatesMessage = (first, n) => {
  const u = encoding.createEncoder()
  encoding.writeVarUint(u, n)
  for (let i = 0; i < n; i++) {
    encoding.writeVarUint(u, first + i)
    encoding.writeVarUint(u, 1)
    encoding.writeVarString(u, 'null')
  }
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(u))
  return encoding.toUint8Array(e)
}

test(`${MESSAGES} awareness messages of ${ENTRIES} entries each -> ${LIMIT_CLOSE}, RSS bounded`, { timeout: 180000 }, async () => {
  const c = new Checks('D8')
  const server = await startServe({ args: ['--threads', '1'] })
  let probe
  const sockets = []
  try {
    const messages = Array.from({ length: MESSAGES }, (_, k) => nullStatesMessage(1 + k * ENTRIES, ENTRIES))
    probe = await Probe.start(server)
    await sleep(300)
    const before = server.stats()
    const rss = new RssSampler(server)
    probe.loop(100, 15000)
    const closes = []
    for (const m of messages) {
      const r = await openSocket(`${server.ws}/aware-flood`)
      sockets.push(r)
      r.socket.send(m)
      closes.push(closeWithin(r, 20000))
    }
    const closed = await Promise.all(closes)
    await sleep(1000)
    const settled = server.stats()
    const probeMax = await probe.stopLoop()
    const peak = rss.stop()
    const growth = Math.max(peak, settled?.rssMB ?? 0) - before.rssMB
    figure('D8', 'message_bytes', messages[0].length)
    figure('D8', 'closes', JSON.stringify(closed.map(x => x ? `${x.code} ${x.reason}` : 'none within 20 s')))
    figure('D8', 'rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}, settled ${settled?.rssMB?.toFixed(1)}`)
    figure('D8', 'rss_growth_mb', growth)
    figure('D8', 'probe_max_ms', probeMax)
    figure('D8', 'server', server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.check(closed.every(x => x?.code === LIMIT_CLOSE), `every sender closed with ${LIMIT_CLOSE} (got ${JSON.stringify(closed.map(x => x?.code ?? null))})`)
    c.check(closed.every(x => x?.reason?.startsWith('limit:')), 'close reasons start with "limit:"')
    c.atMost('server RSS growth (MB)', growth, RSS_GROWTH_BOUND_MB, ' MB')
    c.atMost('probe edit in another room (ms)', probeMax, PROBE_BOUND_MS)
  } finally {
    for (const r of sockets) r.socket.terminate()
    probe?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
})
