// D3 (issue #17): sync step 1 amplification. Every step 1 with a non-empty state vector was
// answered with a fresh encoding of the state, and while an append was in flight the answers
// waited in the room's unbounded outbox: one connection sending a tiny update plus 1,000 step 1s
// (13 KB) and never reading took a server with a 1 MB document from 26 MB to 1.07 GB.
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, openSocket, rawWs, wsFrame, syncAnswer, updateMessage,
  syncStep1Message, stateVector, stringItemUpdate, RssSampler, Y, PROBE_BOUND_MS, sleep
} from './lib.mjs'

const STEP1S = Number(process.env.TANDEM_ADV_D3_STEP1S ?? 1000)
const DOC_BYTES = 1 << 20
const RSS_GROWTH_BOUND_MB = 200
const WATCH_MS = 10000
// UPDATE_EVERY > 0 adds a tiny update every UPDATE_EVERY step 1s (more appends in flight).
const UPDATE_EVERY = Number(process.env.TANDEM_ADV_D3_UPDATE_EVERY ?? 0)

// ~1 MB of text in 64 items of one client.
const bigDocUpdate = () => {
  const doc = new Y.Doc()
  doc.clientID = 7
  const text = doc.getText('text')
  const chunk = DOC_BYTES / 64
  for (let i = 0; i < 64; i++) text.insert(Math.floor(text.length / 2), String.fromCharCode(97 + (i % 26)).repeat(chunk))
  const u = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return u
}

test(`a tiny update + ${STEP1S} step-1 messages from a connection that never reads: RSS bounded, other rooms answer`, { timeout: 180000 }, async () => {
  const c = new Checks('D3')
  const server = await startServe({ args: ['--threads', '1'] })
  let probe, attacker
  try {
    const big = bigDocUpdate()
    const owner = await openSocket(`${server.ws}/big`)
    owner.socket.send(updateMessage(big))
    const seeded = await syncAnswer(owner, { timeoutMs: 30000 })
    owner.socket.close()
    c.check(seeded !== null && seeded.bytes >= DOC_BYTES, `the ${big.length}-byte document is in place (answer: ${JSON.stringify(seeded)})`)
    probe = await Probe.start(server)
    await sleep(500)
    const before = server.stats()
    const rss = new RssSampler(server)
    probe.loop(100, 60000)

    // Raw TCP: the update and the step 1s go out in one write, so the server reads them in one
    // go (while the update's append is in flight), and the socket is never read.
    attacker = await rawWs(server.port, '/big')
    attacker.sock.pause()
    const sv = syncStep1Message(stateVector([[424242, 1]])) // non-empty, covers nothing of the doc
    let clock = 0
    const tiny = () => wsFrame(0x2, updateMessage(stringItemUpdate({ client: 424242, clock: clock++, text: '!' })))
    const frames = [tiny()]
    for (let i = 0; i < STEP1S; i++) {
      frames.push(wsFrame(0x2, sv))
      if (UPDATE_EVERY > 0 && i % UPDATE_EVERY === UPDATE_EVERY - 1) frames.push(tiny())
    }
    const t0 = performance.now()
    attacker.sock.write(Buffer.concat(frames))
    let after = null
    while (performance.now() - t0 < WATCH_MS && server.alive()) await sleep(250)
    after = server.stats()
    attacker.sock.destroy()
    await sleep(2000)
    const settled = server.stats()
    const peak = rss.stop()
    const probeMax = await probe.stopLoop()
    const growth = peak - before.rssMB
    figure('D3', 'rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)} (at ${WATCH_MS} ms ${after?.rssMB?.toFixed(1)}, 2 s after the attacker left ${settled?.rssMB?.toFixed(1)})`)
    figure('D3', 'rss_growth_mb', growth)
    figure('D3', 'cpu_s', after ? after.cpuS - before.cpuS : 'n/a')
    figure('D3', 'probe_max_ms', probeMax)
    figure('D3', 'server', server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    c.atMost('server RSS growth (MB)', growth, RSS_GROWTH_BOUND_MB, ' MB')
    c.atMost('probe edit in another room (ms)', probeMax, PROBE_BOUND_MS)
  } finally {
    attacker?.sock.destroy()
    probe?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
})
