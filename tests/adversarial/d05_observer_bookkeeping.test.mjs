// D5 (issue #17): quadratic observer bookkeeping. For every changed type the transaction walked
// to the root looking for deep observers even when nothing observes, and the changed-type set is
// searched linearly: 40,000 nested types each getting a child in one update stalled the room 8 s
// and another room on the same thread 5 s. Here the types stay within the default nesting limit
// (chains of 200), so the update must be accepted and applied quickly. (Measured on the old
// debug build: the depth walk is a small part; the linear search of the changed-type set, and of
// a map's changed keys, is what is quadratic.)
import { test } from 'node:test'
import {
  Checks, figure, startServe, Probe, openSocket, syncAnswer, updateMessage, nestedChainsUpdate,
  childInEachUpdate, missingFlags, PROBE_BOUND_MS
} from './lib.mjs'

const CHAINS = Number(process.env.TANDEM_ADV_D5_CHAINS ?? 400)
const DEPTH = Number(process.env.TANDEM_ADV_D5_DEPTH ?? 250)
const TYPES = CHAINS * DEPTH
const KEYS = Number(process.env.TANDEM_ADV_D5_KEYS ?? 60000)
const APPLY_BOUND_MS = 3000

const attack = (chains, depth, args = []) => async () => {
  const types = chains * depth
  const c = new Checks('D5')
  const server = await startServe({ args: ['--threads', '1', ...args] })
  const tag = `${chains}x${depth}`
  let probe
  try {
    probe = await Probe.start(server)
    const r = await openSocket(`${server.ws}/observers`)
    probe.loop(100, 30000)
    const t0 = performance.now()
    r.socket.send(updateMessage(nestedChainsUpdate(chains, depth)))
    const created = await syncAnswer(r, { timeoutMs: 60000 })
    const createMs = performance.now() - t0
    const t1 = performance.now()
    r.socket.send(updateMessage(childInEachUpdate(types)))
    const applied = await syncAnswer(r, { timeoutMs: 60000 })
    const applyMs = performance.now() - t1
    const probeMax = await probe.stopLoop()
    figure('D5', `${tag}.create_ms`, created ? createMs : `no answer (closed: ${JSON.stringify(r.closed)})`)
    figure('D5', `${tag}.apply_ms`, applied ? applyMs : `no answer within 60 s (closed: ${JSON.stringify(r.closed)})`)
    figure('D5', `${tag}.probe_max_ms`, probeMax)
    figure('D5', `${tag}.server`, server.describeDeath())
    c.equal('serve alive', server.describeDeath(), 'alive')
    if (args.length) c.check(missingFlags('serve', args.filter(a => a.startsWith('--'))).length === 0, `serve has ${args.join(' ')}`)
    c.check(created !== null, `the ${types} types (depth ${depth}, within the nesting limit) are accepted (closed: ${JSON.stringify(r.closed)})`)
    c.atMost(`apply time of the update creating ${types} types under ${chains} keys of one map (ms)`, created ? createMs : Infinity, APPLY_BOUND_MS)
    c.atMost('apply time of the update adding a child to each type (ms)', applied ? applyMs : Infinity, APPLY_BOUND_MS)
    c.atMost('probe edit in another room (ms)', probeMax, PROBE_BOUND_MS)
  } finally {
    probe?.destroy()
    await server.stop({ graceMs: 10000 })
    server.cleanup()
  }
  c.done()
}

test(`${TYPES} nested types (${CHAINS} chains of ${DEPTH}) each getting a child in one update: applied within ${APPLY_BOUND_MS} ms, other rooms answer`,
  { timeout: 180000 }, attack(CHAINS, DEPTH))

// Flat: 60,000 arrays under 60,000 keys of one map set in one update, then a child in each (the
// changed-type and changed-key bookkeeping, not the walk to the root).
test(`${KEYS} arrays under ${KEYS} keys of one map, then a child in each: both updates applied within ${APPLY_BOUND_MS} ms`,
  { timeout: 180000 }, attack(KEYS, 1))

// The shape: one chain of 40,000 nested arrays (allowed by --max-nesting-depth 100000),
// each getting a child: the walk to the root per changed type was quadratic (8 s in release).
const CHAIN = Number(process.env.TANDEM_ADV_D5_CHAIN ?? 40000)
test(`--max-nesting-depth 100000: one chain of ${CHAIN} nested arrays, then a child in each: both updates applied within ${APPLY_BOUND_MS} ms`,
  { timeout: 180000 }, attack(1, CHAIN, ['--max-nesting-depth', '100000']))
