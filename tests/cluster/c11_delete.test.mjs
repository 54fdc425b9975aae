// Cluster: the document API's DELETE (docs/API.md) taken by one node erases the room everywhere.
// Clients of the room on all three nodes are closed with 4410, the answer counts all of them (the
// other nodes' connections as they recorded them in Redis), the room's stream and connection
// counts leave Redis, the store's snapshot goes, a fresh join on any node finds an empty room,
// and another room's clients keep editing throughout.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, freshJoin, keys, docJson, Y, svObject
} from './lib.mjs'

const API_SECRET = 'cluster-api-secret'

const deleteRoom = async (cluster, i, room) => {
  const r = await fetch(`http://127.0.0.1:${cluster.nodes[i].port}/api/v1/rooms/${encodeURIComponent(room)}`, {
    method: 'DELETE', headers: { Authorization: `Bearer ${API_SECRET}` }, signal: AbortSignal.timeout(20000)
  })
  const text = await r.text()
  return { status: r.status, text, json: JSON.parse(text) }
}

test('c11: DELETE on one node closes the room on every node with 4410 and counts every connection', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({ extra: ['--api-secret', API_SECRET] }, async (cluster) => {
    const room = roomName('c11')
    const doomed = spread(cluster, room, 6) // two on each node
    const others = spread(cluster, roomName('c11-other'), 3)
    // An application destroys its provider on 4410 (y-websocket would reconnect and bring the
    // document back): so do these clients, inside the close event, before any reconnect.
    for (const c of doomed) {
      c.provider.on('connection-close', (ev) => { if (ev?.code === 4410) c.leave() })
    }
    try {
      await syncAll([...doomed, ...others])
      await editFor([...doomed, ...others], { ms: 2000, perSecond: 4, rng })
      await checkRooms(cluster, byRoom([...doomed, ...others]))
      // Every node has recorded its two connections, and the room has a snapshot to delete.
      await waitFor(async () => {
        const counts = (await cluster.redis.call('HVALS', keys.conns(room))).map(b => Number(String(b)))
        return counts.length === 3 && counts.every(n => n === 2)
      }, 'each node to record its connections of the room in Redis')
      await waitFor(async () => (await cluster.store.snapshot(room)) !== null, 'a snapshot of the room in the store')

      const editing = editFor(others, { ms: 3000, perSecond: 4, rng })
      const r = await deleteRoom(cluster, 0, room)
      assert.equal(r.status, 200, r.text)
      assert.deepStrictEqual(r.json, { deleted: true, closedConnections: 6 }, 'the answer counts the clients of every node')
      figure('c11_closed_connections', r.json.closedConnections)

      await waitFor(() => doomed.every(c => c.closes.some(x => x.code === 4410)), 'every client of the room, on every node, to be closed with 4410')
      assert.ok(doomed.every(c => c.destroyed), 'each provider was destroyed on 4410')
      assert.equal(Number(await cluster.redis.call('EXISTS', keys.log(room), keys.conns(room))), 0, 'the stream and the connection counts are gone from Redis')
      assert.equal(await cluster.store.snapshot(room), null, 'the store still has a snapshot')
      await editing

      // A fresh join on any node finds an empty room, and the room starts again from there.
      for (const i of [0, 1, 2]) {
        assert.deepStrictEqual(svObject(Y.encodeStateVector(await freshJoin(cluster, room, i))), {}, `a fresh join on node ${i + 1} found content`)
      }
      const again = new Client(cluster, room, 1)
      await again.synced()
      again.doc.getMap('map').set('after', 1)
      await waitFor(async () => docJson(await freshJoin(cluster, room, 2)).map.after === 1, 'the new room to take an edit')
      again.leave()

      // The other room never stopped.
      await checkRooms(cluster, byRoom(others))
      assert.ok(others.every(c => c.closes.length === 0), 'a client of another room was closed')
    } finally {
      leaveAll([...doomed, ...others])
    }
  })
})
