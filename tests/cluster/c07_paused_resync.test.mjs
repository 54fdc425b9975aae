// Cluster scenario 7 (issue #19): a node is paused (SIGSTOP), its relay subscription lost, while the
// owner saves and trims the stream past where the paused node had read; resumed, it notices the
// gap, resyncs the room from the store plus the stream, and its clients converge with everyone.
import { test } from 'node:test'
import {
  assert, withCluster, spread, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, metricSum, Y
} from './lib.mjs'

const sameState = (a, b) => Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))

test('c07: a node paused across a save and trim resyncs and converges', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c07')
    const clients = spread(cluster, room, 6)
    try {
      await syncAll(clients)
      await editFor(clients, { ms: 2000, perSecond: 4, rng })
      const owner = await cluster.waitOwner(room)
      const paused = cluster.nextLive(owner)
      figure('c07_owner', cluster.nodes[owner].id)
      figure('c07_paused', cluster.nodes[paused].id)
      const resyncsBefore = metricSum(await cluster.metrics(paused), 'tandem_cluster_resyncs_total')
      const onPaused = clients.filter(c => c.node === paused)
      const others = clients.filter(c => c.node !== paused)
      await waitFor(() => clients.every(c => sameState(c.doc, clients[0].doc)), 'everyone in step before the pause', 20000)
      const seqAtPause = (await cluster.meta(room)).seq ?? 0
      const pauseAt = Date.now()
      cluster.pause(paused)
      // What the relay publishes while a node is paused waits in its socket: resumed, it would read
      // every entry and miss nothing. A node falls behind the log when its subscription is lost
      // while it is away (a network cut, a Redis restart, Redis's output buffer limit): drop every
      // subscriber's connection now (the others subscribe again at once and read what they missed).
      await cluster.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
      // the others edit on while the owner saves (every 2 s) and trims (entries older than 1 s)
      let trimmedPast = false
      const editing = editFor(others, { ms: 20000, perSecond: 4, rng, stop: () => trimmedPast })
      await waitFor(async () => (await cluster.firstSeq(room)) > seqAtPause + 1, 'a trim past the paused node\'s position', 20000)
      trimmedPast = true
      await editing
      figure('c07_trim_past_pause_ms', Date.now() - pauseAt)
      // the paused node's clients made edits too (queued in its socket buffers)
      for (const c of onPaused) c.edit(rng)
      const resumeAt = Date.now()
      cluster.resume(paused)
      const catchUp = await (async () => {
        try {
          await waitFor(() => clients.every(c => sameState(c.doc, others[0].doc)), 'the paused node\'s clients to catch up', 30000)
          return Date.now() - resumeAt
        } catch (e) { console.log(`NOTE ${e.message}`); return NaN }
      })()
      figure('c07_catch_up_ms', Number.isNaN(catchUp) ? 'never' : catchUp)
      const resyncs = metricSum(await cluster.metrics(paused), 'tandem_cluster_resyncs_total') - resyncsBefore
      figure('c07_resyncs', resyncs)
      figure('c07_paused_clients_reconnected', onPaused.filter(c => c.closes.some(x => x.t >= resumeAt)).length)
      await editFor(clients, { ms: 1500, perSecond: 4, rng })
      const result = await checkRooms(cluster, byRoom(clients))
      figure('c07_converge_ms', result.convergeMs)
      assert.ok(!Number.isNaN(catchUp), 'the paused node\'s clients did not catch up')
      assert.ok(resyncs >= 1, 'the resumed node reports no resync (tandem_cluster_resyncs_total)')
    } finally {
      leaveAll(clients)
    }
  })
})
