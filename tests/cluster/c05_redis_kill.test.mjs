// Cluster scenario 5 (issue #19): kill -9 Redis mid-edit and restart it from its AOF. While it
// is down clients get 1013 and /readyz answers 503; nothing is relayed that Redis did not log (no
// client sees another's edits made after the kill until Redis is back); nothing acknowledged is
// lost (the sequences come back from the AOF); after the restart everything converges.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, closeCodes, timeUntil, ownClocks, editsSeenSince
} from './lib.mjs'

test('c05: kill -9 Redis and restart it from the AOF: 1013, nothing relayed unlogged, nothing acknowledged lost', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c05')
    const clients = spread(cluster, room, 6)
    const solos = [0, 1, 2].map(i => new Client(cluster, roomName(`c05-solo${i}`), i))
    const all = [...clients, ...solos]
    const rooms = byRoom(all)
    try {
      await syncAll(all)
      await editFor(all, { ms: 2500, perSecond: 4, rng })
      const seqBefore = new Map()
      for (const r of rooms.keys()) seqBefore.set(r, (await cluster.meta(r)).seq ?? 0)
      // each client's own clock at the kill: nothing it makes later can be in Redis
      const ownClock = ownClocks(all)
      const killAt = Date.now()
      await cluster.redis.kill9()
      figure('c05_redis_kill_ms', Date.now() - killAt)
      // edits go on during the outage
      const editing = editFor(all, { ms: 3500, perSecond: 4, rng })
      // /readyz answers 503 on every node while Redis is unreachable
      let notReadyMs = NaN
      try {
        notReadyMs = await timeUntil(async () => {
          const st = await Promise.all(cluster.live().map(n => fetch(`${cluster.http(n.index)}/readyz`, { signal: AbortSignal.timeout(1000) }).then(r => r.status, () => 0)))
          return st.every(s => s === 503)
        }, 'every node\'s /readyz to answer 503', 8000)
      } catch (e) { console.log(`NOTE ${e.message}`) }
      figure('c05_readyz_503_after_ms', Number.isNaN(notReadyMs) ? 'never' : notReadyMs)
      await editing
      // nothing relayed unlogged: no client holds another's edits made after the kill
      const leaks = editsSeenSince(rooms, ownClock)
      const codes = closeCodes(all)
      figure('c05_close_codes_during_outage', JSON.stringify(codes))
      const outageCloses = all.flatMap(c => c.closes.filter(x => x.t >= killAt))
      figure('c05_closes_1013', outageCloses.filter(x => x.code === 1013).length)
      const downFor = Date.now() - killAt
      figure('c05_outage_ms', downFor)

      const restartAt = Date.now()
      await cluster.redis.restart()
      figure('c05_redis_restart_ms', Date.now() - restartAt)
      // nothing acknowledged is lost: the sequences are back from the AOF
      const lost = []
      for (const r of rooms.keys()) {
        const seq = (await cluster.meta(r)).seq ?? 0
        if (seq < seqBefore.get(r)) lost.push(`${r}: seq ${seq} < ${seqBefore.get(r)} before the kill`)
      }
      const [readyMs, recoverMs] = await Promise.all([
        timeUntil(async () => {
          const st = await Promise.all(cluster.live().map(n => fetch(`${cluster.http(n.index)}/readyz`, { signal: AbortSignal.timeout(1000) }).then(r => r.status, () => 0)))
          return st.every(s => s === 200)
        }, 'every node ready again', 20000),
        timeUntil(() => all.every(c => c.connected), 'every client synced after the restart', 30000)
      ])
      figure('c05_ready_again_ms', readyMs)
      figure('c05_clients_back_ms', recoverMs)
      const lateCloses = all.flatMap(c => c.closes.filter(x => x.t >= restartAt).map(x => ({ ...x, after: x.t - restartAt })))
      figure('c05_closes_after_restart', lateCloses.length)
      console.log(`closes after the restart: ${JSON.stringify(lateCloses.slice(-12))}`)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      const result = await checkRooms(cluster, rooms)
      figure('c05_converge_ms', result.convergeMs)

      assert.deepEqual(leaks.slice(0, 5), [], 'updates reached other clients while Redis was down')
      assert.deepEqual(lost, [], 'acknowledged appends lost across the Redis restart')
      assert.ok(outageCloses.some(x => x.code === 1013), `no client was closed with 1013 during the outage (closes: ${JSON.stringify(outageCloses.slice(0, 10))})`)
      const odd = outageCloses.filter(x => ![1013, 1006, null].includes(x.code))
      assert.deepEqual(odd.slice(0, 5), [], 'close codes other than 1013 during the outage')
      assert.ok(!Number.isNaN(notReadyMs), '/readyz did not answer 503 on every node while Redis was down')
    } finally {
      leaveAll(all)
    }
  })
})
