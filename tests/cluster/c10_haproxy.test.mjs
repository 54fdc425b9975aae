// Cluster scenario 10 (issue #19): the convergence test through HAProxy in front of the three
// nodes (balance uri, consistent hashing, /readyz health checks), with the busiest node killed
// mid-edit: clients reconnect through HAProxy to the surviving nodes and everything converges.
import { test } from 'node:test'
import {
  assert, withCluster, HAProxy, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, sleep, timeUntil, metricSum
} from './lib.mjs'

test('c10: through HAProxy, with one node killed, clients reconnect and converge', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const haproxy = cluster.haproxy = await HAProxy.start(cluster.nodes.map(n => ({ name: n.id, port: n.port })))
    const rooms = Array.from({ length: 9 }, (_, k) => roomName(`c10-r${k}`))
    const all = rooms.flatMap(r => [0, 1, 2].map(() => new Client(cluster, r, { url: haproxy.ws })))
    try {
      await syncAll(all)
      // where HAProxy put the connections (balance uri: one node per room)
      const conns = []
      for (const n of cluster.nodes) conns.push(metricSum(await cluster.metrics(n.index), 'tandem_connections'))
      figure('c10_connections_per_node', conns.join('/'))
      assert.equal(conns.reduce((a, b) => a + b, 0), all.length, 'every client connected through HAProxy to some node')
      await editFor(all, { ms: 2000, perSecond: 3, rng })
      const victim = conns.indexOf(Math.max(...conns))
      figure('c10_victim', cluster.nodes[victim].id)
      const editing = editFor(all, { ms: 7000, perSecond: 3, rng })
      await sleep(1500)
      const killAt = Date.now()
      await cluster.kill(victim)
      const downMs = await timeUntil(async () => (await haproxy.status())[cluster.nodes[victim].id] === 'DOWN', 'HAProxy to mark the killed node DOWN', 10000).catch(() => NaN)
      figure('c10_haproxy_down_ms', Number.isNaN(downMs) ? 'never' : downMs)
      const moved = all.filter(c => c.closes.some(x => x.t >= killAt))
      figure('c10_clients_cut', moved.length)
      const backMs = await timeUntil(() => all.every(c => c.connected), 'every client synced again through HAProxy', 30000)
      figure('c10_clients_back_ms', Date.now() - killAt)
      await editing
      const connsAfter = []
      for (const n of cluster.live()) connsAfter.push(metricSum(await cluster.metrics(n.index), 'tandem_connections'))
      figure('c10_connections_per_live_node_after', connsAfter.join('/'))
      const result = await checkRooms(cluster, byRoom(all))
      figure('c10_converge_ms', result.convergeMs)
      assert.ok(moved.length >= 1, 'no client was on the killed node')
      assert.ok(backMs >= 0)
      assert.equal(connsAfter.reduce((a, b) => a + b, 0), all.length, 'every client reconnected to a live node')
    } finally {
      leaveAll(all)
    }
  })
})
