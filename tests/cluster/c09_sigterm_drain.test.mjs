// Cluster scenario 9 (issue #19): SIGTERM a node. It drains: /readyz turns 503, its clients are
// closed with 1012 and reconnect elsewhere, its leases are released at once (the lease TTL is
// 10 s here, so a release that waits for expiry shows), and it exits 0.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, timeUntil
} from './lib.mjs'

test('c09: SIGTERM a node: 1012 to its clients, leases released at once, clients reconnect elsewhere', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({ timings: { '--lease-ttl': '10s' } }, async (cluster) => {
    const room = roomName('c09')
    const clients = spread(cluster, room, 6)
    const solos = [0, 1, 2, 0, 1, 2].map((i, k) => new Client(cluster, roomName(`c09-solo${k}`), i))
    const all = [...clients, ...solos]
    const rooms = byRoom(all)
    try {
      await syncAll(all)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      const victim = await cluster.waitOwner(room)
      const victimId = cluster.nodes[victim].id
      figure('c09_victim', victimId)
      // the victim's leases are the ones to watch
      const owned = []
      for (const r of rooms.keys()) if ((await cluster.lease(r)) === victimId) owned.push(r)
      figure('c09_victim_leases', owned.length)
      const onVictim = all.filter(c => c.node === victim)
      const editing = editFor(all, { ms: 6000, perSecond: 4, rng })
      await sleep(1000)
      const node = cluster.nodes[victim]
      node.up = false
      const termAt = Date.now()
      node.proc.proc.kill('SIGTERM')
      // /readyz while draining (the process may be gone before a poll lands)
      const readyz = []
      const poll = (async () => {
        while (node.proc.alive() && Date.now() - termAt < 5000) {
          const sentAt = Date.now() - termAt
          readyz.push({ sentAt, status: await fetch(`${cluster.http(victim)}/readyz`, { signal: AbortSignal.timeout(500) }).then(r => r.status, () => 0) })
          await sleep(10)
        }
      })()
      const releaseMs = await timeUntil(async () => {
        for (const r of owned) if ((await cluster.lease(r)) === victimId) return false
        return true
      }, 'the victim\'s leases released', 15000).catch(() => NaN)
      figure('c09_leases_released_ms', Number.isNaN(releaseMs) ? 'never' : releaseMs)
      let exitTimer
      const exit = await Promise.race([node.proc.exited, new Promise(resolve => { exitTimer = setTimeout(() => resolve(null), 15000) })])
      clearTimeout(exitTimer)
      figure('c09_exit_ms', Date.now() - termAt)
      figure('c09_exit', JSON.stringify(exit))
      await poll
      figure('c09_readyz_statuses', JSON.stringify([...new Set(readyz.map(r => r.status))]))
      // a poll sent in the instant after kill() may land before the signal is handled: only a 200
      // after the first non-200, or later than 200 ms after the signal, is a failure
      const firstDown = readyz.findIndex(r => r.status !== 200)
      const lateReady = readyz.filter((r, i) => r.status === 200 && ((firstDown >= 0 && i > firstDown) || r.sentAt > 200))
      const back = await timeUntil(() => onVictim.every(c => c.connected && c.node !== victim), 'the victim\'s clients synced elsewhere', 30000)
      figure('c09_clients_back_ms', back)
      await editing
      const firstClose = onVictim.map(c => c.closes.find(x => x.t >= termAt)?.code ?? null)
      figure('c09_victim_close_codes', JSON.stringify(firstClose))
      const takeover = []
      for (const r of owned) takeover.push(await cluster.waitOwner(r, { not: [victim], timeoutMs: 15000 }).then(() => true, () => false))
      figure('c09_rooms_taken_over', takeover.filter(Boolean).length)

      const result = await checkRooms(cluster, rooms)
      figure('c09_converge_ms', result.convergeMs)
      assert.ok(owned.length >= 1, 'the victim owned no lease')
      assert.ok(releaseMs < 3000, `the victim's leases were released after ${releaseMs} ms (TTL 10 s)`)
      assert.deepEqual(firstClose, onVictim.map(() => 1012), 'the victim\'s clients were not all closed with 1012')
      assert.equal(exit?.code, 0, `the drained node exited ${JSON.stringify(exit)}`)
      assert.deepEqual(lateReady, [], `/readyz answered 200 while draining: ${JSON.stringify(readyz.slice(0, 20))}`)
    } finally {
      leaveAll(all)
    }
  })
})
