// A full Redis (at its maxmemory under noeviction, as docs/CLUSTER.md asks it to run) mid-edit:
// it refuses the appends, so clients get 1013 and re-send on reconnect, nothing is relayed that
// Redis did not log, no node exits, and once Redis has room again every edit made meanwhile
// arrives everywhere and the cluster converges.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, closeCodes, timeUntil, ownClocks, editsSeenSince
} from './lib.mjs'

test('c12: a full Redis refuses appends: 1013, nothing relayed unlogged, nothing lost once it has room', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c12')
    const clients = spread(cluster, room, 6)
    const solos = [0, 1, 2].map(i => new Client(cluster, roomName(`c12-solo${i}`), i))
    const all = [...clients, ...solos]
    const rooms = byRoom(all)
    try {
      await syncAll(all)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      // Clients' own clocks when Redis fills up: nothing any of them makes later can be logged
      // until it has room again, so no other client may see it before then.
      const ownClock = ownClocks(all)
      const fullAt = Date.now()
      await cluster.redis.call('CONFIG', 'SET', 'maxmemory', '1')
      await editFor(all, { ms: 3500, perSecond: 4, rng })
      const leaks = editsSeenSince(rooms, ownClock)
      const fullCloses = all.flatMap(c => c.closes.filter(x => x.t >= fullAt))
      figure('c12_close_codes_while_full', JSON.stringify(closeCodes(all)))
      figure('c12_closes_1013', fullCloses.filter(x => x.code === 1013).length)
      const exited = cluster.nodes.filter(n => !n.proc.alive()).map(n => n.index)

      const roomAt = Date.now()
      await cluster.redis.call('CONFIG', 'SET', 'maxmemory', '0')
      const backMs = await timeUntil(() => all.every(c => c.connected), 'every client synced once Redis has room', 30000)
      figure('c12_clients_back_ms', backMs)
      figure('c12_closes_after_room', all.flatMap(c => c.closes.filter(x => x.t >= roomAt)).length)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      // Every node's document, a fresh join on every node and the store's snapshot plus the log
      // agree, and hold every update any client received: the edits made while Redis was full
      // included (each client keeps its own, and re-sends them on reconnect).
      const result = await checkRooms(cluster, rooms)
      figure('c12_converge_ms', result.convergeMs)

      assert.deepEqual(exited, [], 'a node exited while Redis was full')
      assert.deepEqual(leaks.slice(0, 5), [], 'updates reached other clients while Redis refused them')
      assert.ok(fullCloses.some(x => x.code === 1013), `no client was closed with 1013 while Redis was full (closes: ${JSON.stringify(fullCloses.slice(0, 10))})`)
      const odd = fullCloses.filter(x => ![1013, 1006, null].includes(x.code))
      assert.deepEqual(odd.slice(0, 5), [], 'close codes other than 1013 while Redis was full')
    } finally {
      leaveAll(all)
    }
  })
})
