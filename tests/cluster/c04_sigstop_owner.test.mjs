// Cluster scenario 4 (issue #19): SIGSTOP the owner past its lease; another node takes over and
// saves; SIGCONT: the old owner's saves are refused by epoch (the store answers 409 to a lower
// epoch) and it trims nothing.
import { test } from 'node:test'
import {
  assert, withCluster, spread, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, metricSum
} from './lib.mjs'

const ownerFigures = (text) => ({
  savesOk: metricSum(text, 'tandem_cluster_saves_total', { result: 'ok' }),
  savesNotOwner: metricSum(text, 'tandem_cluster_saves_total', { result: 'not_owner' }),
  savesFailed: metricSum(text, 'tandem_cluster_saves_total', { result: 'failed' }),
  trimmed: metricSum(text, 'tandem_cluster_trimmed_entries_total'),
  leases: metricSum(text, 'tandem_cluster_leases_owned')
})

test('c04: SIGSTOP the owner past its lease, another saves; SIGCONT: the old owner is fenced', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c04')
    const clients = spread(cluster, room, 6)
    try {
      await syncAll(clients)
      await editFor(clients, { ms: 2500, perSecond: 4, rng })
      const owner = await cluster.waitOwner(room)
      figure('c04_owner', cluster.nodes[owner].id)
      await waitFor(async () => (await cluster.store.versions(room)).length > 0, 'a first save', 20000)
      // the owner has unsaved changes when it stops: a save is due when it wakes up
      const others = clients.filter(c => c.node !== owner)
      const before = ownerFigures(await cluster.metrics(owner))
      const epochBefore = (await cluster.meta(room)).epoch
      figure('c04_epoch_before', epochBefore ?? 'none')
      const editing = editFor(others, { ms: 9000, perSecond: 4, rng })
      await sleep(500)
      const stopAt = Date.now()
      cluster.pause(owner)
      // the owner's own clients keep editing: their messages wait in the socket buffers
      for (const c of clients.filter(c => c.node === owner)) c.edit(rng)
      const newOwner = await cluster.waitOwner(room, { not: [owner], timeoutMs: 20000 })
      figure('c04_takeover_ms', Date.now() - stopAt)
      figure('c04_new_owner', cluster.nodes[newOwner].id)
      let newSave = null
      await waitFor(async () => {
        newSave = (await cluster.store.versions(room)).find(v => v.time > stopAt + 300) ?? null
        return newSave !== null
      }, 'a save by the new owner', 20000)
      figure('c04_save_after_stop_ms', newSave.time - stopAt)
      const epochAfter = (await cluster.meta(room)).epoch
      figure('c04_epoch_after', epochAfter ?? 'none')
      if (epochBefore !== undefined) assert.ok(epochAfter > epochBefore, `the epoch went from ${epochBefore} to ${epochAfter}`)

      // the store fences a lower epoch: 409 (the latest bytes, so a wrong answer changes nothing)
      const latest = await cluster.store.snapshot(room)
      const fence = await cluster.store.post(room, latest, { epoch: Math.max(0, (epochAfter ?? 1) - 1) })
      figure('c04_store_lower_epoch_status', fence.status)
      assert.equal(fence.status, 409, `the store answered a lower epoch with ${fence.status} ${fence.text}`)

      const contAt = Date.now()
      cluster.resume(owner)
      // the old owner wakes with a save due and entries old enough to trim: it must do neither
      await sleep(4000)
      await editing
      const after = ownerFigures(await cluster.metrics(owner))
      const leaseNow = await cluster.lease(room)
      figure('c04_lease_after_resume', leaseNow ?? 'none')
      for (const k of Object.keys(after)) figure(`c04_old_owner_${k}_delta`, after[k] - before[k])
      const versionsAfter = (await cluster.store.versions(room)).filter(v => v.time >= contAt)
      figure('c04_versions_after_resume', versionsAfter.length)
      if (leaseNow !== cluster.nodes[owner].id) {
        assert.equal(after.trimmed - before.trimmed, 0, 'the old owner trimmed entries after it lost its lease')
        assert.equal(after.savesOk - before.savesOk, 0, 'the old owner saved after it lost its lease')
      } else {
        console.log('NOTE the old owner holds the lease again at the end: its saves and trims are legitimate')
      }

      const result = await checkRooms(cluster, byRoom(clients))
      figure('c04_converge_ms', result.convergeMs)
    } finally {
      leaveAll(clients)
    }
  })
})
