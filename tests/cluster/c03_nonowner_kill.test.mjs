// Cluster scenario 3 (issue #19): kill -9 a node that does not own the room. Its clients
// reconnect to another node and the edits they made while cut off (unsent) arrive everywhere.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, sleep, timeUntil, waitFor
} from './lib.mjs'

test('c03: kill -9 a non-owner: its clients reconnect elsewhere and their unsent edits arrive', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c03')
    const clients = spread(cluster, room, 6)
    const solos = [0, 1, 2, 0, 1, 2].map((i, k) => new Client(cluster, roomName(`c03-solo${k}`), i))
    const all = [...clients, ...solos]
    try {
      await syncAll(all)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      const owner = await cluster.waitOwner(room)
      const victim = cluster.nextLive(owner)
      figure('c03_owner', cluster.nodes[owner].id)
      figure('c03_victim', cluster.nodes[victim].id)
      const onVictim = all.filter(c => c.node === victim)
      // a client that stays on the victim (no rotation): its awareness state must vanish from
      // the others once the victim's liveness key expires, not after awareness's 30 s timeout
      const ghost = new Client(cluster, room, victim, { rotate: false, record: false, name: 'ghost' })
      await ghost.synced()
      ghost.provider.awareness.setLocalStateField('user', { name: 'ghost' })
      const watchers = clients.filter(c => c.node !== victim)
      await waitFor(() => watchers.every(w => w.provider.awareness.getStates().has(ghost.clientID)), 'the ghost\'s awareness on the other nodes', 10000)
      const editing = editFor(all, { ms: 7000, perSecond: 5, rng })
      await sleep(1500)
      const killAt = Date.now()
      await cluster.kill(victim)
      const ghostGone = timeUntil(() => watchers.every(w => !w.provider.awareness.getStates().has(ghost.clientID)), 'the ghost\'s awareness dropped', 20000).catch(() => NaN)
      // the victim's clients edit while they are cut off: those updates are unsent
      await waitFor(() => onVictim.every(c => !c.provider.wsconnected), 'the victim\'s clients to see their connection close', 10000)
      for (const c of onVictim) for (let k = 0; k < 3; k++) c.edit(rng)
      const reconnectMs = await timeUntil(() => onVictim.every(c => c.connected && c.node !== victim), 'the victim\'s clients to sync on another node', 30000)
      figure('c03_reconnect_ms', reconnectMs)
      await editing
      const ghostMs = await ghostGone
      ghost.leave()
      figure('c03_awareness_dropped_ms', Number.isNaN(ghostMs) ? 'never' : ghostMs)
      const unsent = onVictim.reduce((n, c) => n + c.sent.filter(s => !s.connected && s.t >= killAt).length, 0)
      figure('c03_unsent_updates', unsent)
      assert.ok(unsent >= onVictim.length * 3, `the victim's clients made ${unsent} edits while cut off`)
      figure('c03_victim_clients', onVictim.length)

      const result = await checkRooms(cluster, byRoom(all))
      figure('c03_converge_ms', result.convergeMs)
      // the owner kept its lease (a non-owner's death moves nothing)
      figure('c03_owner_after', (await cluster.lease(room)) ?? 'none')
      assert.equal(await cluster.lease(room), cluster.nodes[owner].id, 'the owner kept the room\'s lease')
      assert.ok(ghostMs < 10000, `a dead node's client's awareness stayed ${ghostMs} ms on the other nodes (node TTL 1.5 s)`)
    } finally {
      leaveAll(all)
    }
  })
})
