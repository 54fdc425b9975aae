// Cluster scenario 2 (issue #19): kill -9 the owner of a room mid-edit. Another node takes the
// lease and saves with a higher epoch; the stream is trimmed only after that save (no entry the
// store did not have at the kill disappears before the new owner's save is acknowledged).
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, waitFor, sleep, metricSum
} from './lib.mjs'

test('c02: kill -9 the owner mid-edit: another node takes the lease, saves with a higher epoch, trims after', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const room = roomName('c02')
    const clients = spread(cluster, room, 6)
    const solos = [0, 1, 2].map(i => new Client(cluster, roomName(`c02-solo${i}`), i))
    const all = [...clients, ...solos]
    try {
      await syncAll(all)
      await editFor(all, { ms: 2500, perSecond: 4, rng })
      const owner = await cluster.waitOwner(room)
      figure('c02_owner', cluster.nodes[owner].id)
      // a first save by the owner, so the kill happens with something in the store
      await waitFor(async () => (await cluster.store.versions(room)).length > 0, 'a first save of the room', 20000)

      let stopSampling = false
      const samples = [] // {t, first}
      const editing = editFor(all, { ms: 9000, perSecond: 4, rng })
      await sleep(800)
      const metaAtKill = await cluster.meta(room)
      const versionsAtKill = await cluster.store.versions(room)
      const lastVersionAtKill = versionsAtKill[0]?.version ?? 0
      figure('c02_epoch_before', metaAtKill.epoch ?? 'none')
      figure('c02_snap_at_kill', metaAtKill.snap ?? 0)
      figure('c02_seq_at_kill', metaAtKill.seq ?? 0)
      const sampler = (async () => {
        while (!stopSampling) {
          const first = await cluster.firstSeq(room)
          samples.push({ t: Date.now(), first }) // the answer's time: Redis ran the read before it
          await sleep(50)
        }
      })()
      const killAt = Date.now()
      await cluster.kill(owner)
      figure('c02_kill_ms', Date.now() - killAt)

      const newOwner = await cluster.waitOwner(room, { not: [owner], timeoutMs: 20000 })
      const takeoverMs = Date.now() - killAt
      figure('c02_takeover_ms', takeoverMs)
      figure('c02_new_owner', cluster.nodes[newOwner].id)
      // a save by the new owner: a store version newer than the kill
      let newSave = null
      await waitFor(async () => {
        const v = await cluster.store.versions(room)
        newSave = v.find(x => x.version > lastVersionAtKill && x.time > killAt) ?? null
        return newSave !== null
      }, 'a save after the takeover', 20000)
      figure('c02_first_save_after_kill_ms', newSave.time - killAt)
      const metaAfter = await cluster.meta(room)
      figure('c02_epoch_after', metaAfter.epoch ?? 'none')
      // the stream is trimmed past what the store had at the kill, after the new save
      const snapAtKill = metaAtKill.snap ?? 0
      await waitFor(async () => (await cluster.firstSeq(room)) > snapAtKill + 1, 'a trim past the sequence the store covered at the kill', 20000)
      const trimmedAt = Date.now()
      figure('c02_trim_after_kill_ms', trimmedAt - killAt)
      await editing
      stopSampling = true
      await sampler

      // no sample before the new save's acknowledgement saw entries beyond the old snapshot trimmed
      const early = samples.filter(s => s.t < newSave.time)
      const bad = early.filter(s => Number.isFinite(s.first) && s.first > snapAtKill + 1)
      figure('c02_samples_before_new_save', early.length)
      assert.deepEqual(bad.slice(0, 5), [], `entries after sequence ${snapAtKill} were trimmed before the new owner's save (at ${newSave.time})`)
      if (metaAtKill.epoch !== undefined) assert.ok(metaAfter.epoch > metaAtKill.epoch, `the epoch went from ${metaAtKill.epoch} to ${metaAfter.epoch}`)
      else console.log('NOTE the meta hash has no epoch field')

      const text = await cluster.metrics(newOwner)
      figure('c02_new_owner_saves_ok', metricSum(text, 'tandem_cluster_saves_total', { result: 'ok' }))
      figure('c02_new_owner_trimmed', metricSum(text, 'tandem_cluster_trimmed_entries_total'))
      figure('c02_new_owner_leases', metricSum(text, 'tandem_cluster_leases_owned'))

      const result = await checkRooms(cluster, byRoom(all))
      figure('c02_converge_ms', result.convergeMs)
      const victims = all.filter(c => c.closes.some(x => x.t >= killAt))
      figure('c02_clients_moved', victims.length)
      assert.ok(victims.length >= 2, 'the killed owner\'s clients reconnected elsewhere')
    } finally {
      leaveAll(all)
    }
  })
})
