// Cluster scenario 6 (issue #19): the last clients leave on two nodes: exactly one save after the
// disconnect debounce (1 s here), holding everything. Then again with the owner killed inside the
// window: another node finishes the save (the due time lives in Redis's tandem:due).
import { test } from 'node:test'
import {
  assert, withCluster, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, keys, Y, metricSum, docJson
} from './lib.mjs'

const sameState = (a, b) => Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))

// Everything the clients made, merged: what the store must hold.
const unionOf = (clients) => {
  const d = new Y.Doc()
  for (const c of clients) Y.applyUpdate(d, Y.encodeStateAsUpdate(c.doc))
  return d
}

const docFrom = (bytes) => { const d = new Y.Doc(); if (bytes) Y.applyUpdate(d, bytes); return d }

const savesOk = async (cluster) => cluster.metricAll('tandem_cluster_saves_total', { result: 'ok' })

// A: periodic saves every 30 s, so within it the only save is the debounced one (and the due
// time of that save is the debounce's, held in Redis).
test('c06a: the last clients leave on two nodes: exactly one save, after the debounce', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({ timings: { '--save-interval': '30s' } }, async (cluster) => {
    const everyone = []
    try {
      // A: clients on nodes 0 and 1 leave together: one save, after the debounce
      const roomA = roomName('c06-a')
      const a = [0, 1, 0, 1].map(i => new Client(cluster, roomA, i))
      everyone.push(...a)
      await syncAll(a)
      await editFor(a, { ms: 2500, perSecond: 4, rng })
      // settle: every client has everything, then a last edit on each node
      await waitFor(() => a.every(c => sameState(c.doc, a[0].doc)), 'room A to converge', 20000)
      a[0].edit(rng)
      a[1].edit(rng)
      await waitFor(() => a.every(c => sameState(c.doc, a[0].doc)), 'the last edits to arrive', 20000)
      const okBefore = await savesOk(cluster)
      const leaveAt = Date.now()
      leaveAll(a)
      let first = null
      await waitFor(async () => {
        first = (await cluster.store.versions(roomA)).filter(v => v.time >= leaveAt + 200).pop() ?? null
        return first !== null
      }, 'the save after the last leave', 15000)
      figure('c06_a_save_after_leave_ms', first.time - leaveAt)
      await sleep(3500)
      const after = (await cluster.store.versions(roomA)).filter(v => v.time >= leaveAt + 200)
      figure('c06_a_versions_after_leave', after.length)
      const okDelta = (await savesOk(cluster)) - okBefore
      figure('c06_a_saves_ok_metric_delta', okDelta)
      const storedA = docFrom(await cluster.store.snapshot(roomA))
      const wantA = unionOf(a)
      assert.equal(after.length, 1, `versions saved after the last leave: ${JSON.stringify(after)}`)
      assert.ok(first.time - leaveAt >= 800, `the save came ${first.time - leaveAt} ms after the leave, before the 1 s debounce`)
      assert.ok(sameState(storedA, wantA), `the store's snapshot alone lacks edits: ${JSON.stringify(docJson(storedA)).slice(0, 300)} vs ${JSON.stringify(docJson(wantA)).slice(0, 300)}`)
      assert.ok(okDelta === 0 || okDelta === 1, `the nodes report ${okDelta} successful saves after the leave`)

      const result = await checkRooms(cluster, byRoom(everyone))
      figure('c06_check_ms', result.checkMs)
      for (const n of cluster.live()) figure(`c06_${n.id.split('-')[0]}_saves_ok`, metricSum(await cluster.metrics(n.index), 'tandem_cluster_saves_total', { result: 'ok' }))
    } finally {
      leaveAll(everyone)
    }
  })
})

// B: saves every 2 s while connected, so the room has an owner (the lease goes to the node that
// saves); it is killed inside the 1 s window after the last leave.
test('c06b: the owner killed inside the debounce window: another node saves', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const everyone = []
    try {
      // B: the same, then kill -9 the owner inside the debounce window
      const roomB = roomName('c06-b')
      const b = [0, 1, 0, 1].map(i => new Client(cluster, roomB, i))
      everyone.push(...b)
      await syncAll(b)
      await editFor(b, { ms: 2500, perSecond: 4, rng })
      const quietAt = Date.now()
      await waitFor(() => b.every(c => sameState(c.doc, b[0].doc)), 'room B to converge', 20000)
      // a save of everything so far (after the edits stopped): the room has an owner and nothing
      // is due, so the last edits below are the only unsaved change when the owner dies
      await waitFor(async () => {
        const m = await cluster.meta(roomB)
        return m.seq > 0 && m.snap === m.seq && (await cluster.redis.call('ZSCORE', keys.due, roomB)) === null &&
          (await cluster.store.versions(roomB)).some(v => v.time > quietAt)
      }, 'a save of everything (meta snap = seq, nothing due)', 20000)
      const owner = await cluster.waitOwner(roomB)
      figure('c06_b_owner', cluster.nodes[owner].id)
      const survivorsOkBefore = await Promise.all(cluster.nodes.map(n => n.index === owner ? 0 : cluster.metric(n.index, 'tandem_cluster_saves_total', { result: 'ok' })))
      b[0].edit(rng)
      b[1].edit(rng)
      await waitFor(() => b.every(c => sameState(c.doc, b[0].doc)), 'the last edits to arrive', 20000)
      const due = await cluster.redis.call('ZSCORE', keys.due, roomB)
      figure('c06_b_due_before_leave', due === null ? 'none' : 'set')
      const leaveB = Date.now()
      leaveAll(b)
      await sleep(300)
      await cluster.kill(owner)
      figure('c06_b_killed_after_leave_ms', Date.now() - leaveB)
      let saved = null
      await waitFor(async () => {
        saved = (await cluster.store.versions(roomB)).find(v => v.time >= leaveB) ?? null
        return saved !== null
      }, 'another node to save room B', 20000)
      figure('c06_b_save_after_leave_ms', saved.time - leaveB)
      const storedB = docFrom(await cluster.store.snapshot(roomB))
      const wantB = unionOf(b)
      assert.ok(sameState(storedB, wantB), 'the save after the owner\'s death lacks edits')
      const survivorsOkAfter = await Promise.all(cluster.nodes.map(n => n.index === owner ? 0 : cluster.metric(n.index, 'tandem_cluster_saves_total', { result: 'ok' })))
      const survivorSaves = survivorsOkAfter.reduce((x, y) => x + y, 0) - survivorsOkBefore.reduce((x, y) => x + y, 0)
      figure('c06_b_survivor_saves', survivorSaves)
      assert.ok(survivorSaves >= 1, 'no surviving node reports a save (tandem_cluster_saves_total{result="ok"})')
      await sleep(1500)
      figure('c06_b_versions_after_leave', (await cluster.store.versions(roomB)).filter(v => v.time >= leaveB).length)
      await waitFor(async () => (await cluster.redis.call('ZSCORE', keys.due, roomB)) === null, 'room B no longer due', 10000)
        .catch(e => console.log(`NOTE ${e.message}`))
      figure('c06_b_due_after', (await cluster.redis.call('ZSCORE', keys.due, roomB)) === null ? 'none' : 'set')

      const result = await checkRooms(cluster, byRoom(everyone))
      figure('c06_check_ms', result.checkMs)
      for (const n of cluster.live()) figure(`c06_${n.id.split('-')[0]}_saves_ok`, metricSum(await cluster.metrics(n.index), 'tandem_cluster_saves_total', { result: 'ok' }))
    } finally {
      leaveAll(everyone)
    }
  })
})
