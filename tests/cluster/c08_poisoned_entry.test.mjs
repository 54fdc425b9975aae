// Cluster scenario 8 (issue #19): entries that are not Yjs updates (garbage bytes, a truncated
// update, no update field) are written straight into one room's stream with the next sequence
// (as the append script would: HINCRBY meta seq + XADD, atomically in one EVAL). Other rooms keep flowing, no node dies, and the poisoned room resyncs
// and still converges.
import { test } from 'node:test'
import {
  assert, withCluster, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, keys, probeOnce, liveMetricTotals
} from './lib.mjs'

const POISON = `local s = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('XADD', KEYS[1], '*', 's', s, 'u', ARGV[1], 'n', ARGV[2])
return s`
// A malformed entry: the next sequence but no update field at all.
const NO_UPDATE = `local s = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('XADD', KEYS[1], '*', 's', s, 'n', ARGV[1])
return s`

test('c08: a poisoned entry in one room\'s stream: other rooms keep flowing, that room converges', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const bad = roomName('c08-bad')
    const badClients = [0, 1, 2].map(i => new Client(cluster, bad, i))
    const okRooms = [0, 1, 2].map(k => roomName(`c08-ok${k}`))
    const okClients = okRooms.flatMap((r, k) => [new Client(cluster, r, k % 3), new Client(cluster, r, (k + 1) % 3)])
    const all = [...badClients, ...okClients]
    try {
      await syncAll(all)
      await editFor(all, { ms: 2000, perSecond: 4, rng })
      const probesBefore = []
      for (const r of okRooms) { const cs = okClients.filter(c => c.room === r); probesBefore.push(await probeOnce(cs[0], [cs[1]])) }
      figure('c08_ok_probe_ms_max_before', Math.max(...probesBefore))

      // garbage that no Yjs decoder accepts (lengths past the end), then a truncated update
      const garbage = [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02]), Buffer.from([0x01, 0x01, 0x9a, 0x05, 0x00, 0x04])]
      const seqs = []
      for (const g of garbage) seqs.push(await cluster.redis.call('EVAL', POISON, 2, keys.log(bad), keys.meta(bad), g, 'poisoner'))
      seqs.push(await cluster.redis.call('EVAL', NO_UPDATE, 2, keys.log(bad), keys.meta(bad), 'poisoner'))
      figure('c08_poisoned_seqs', seqs.join('/'))
      const editing = editFor(all, { ms: 4000, perSecond: 4, rng })
      // other rooms keep flowing
      const probes = []
      for (let k = 0; k < 3; k++) {
        for (const r of okRooms) { const cs = okClients.filter(c => c.room === r); probes.push(await probeOnce(cs[k % 2], [cs[(k + 1) % 2]], 10000)) }
      }
      await editing
      figure('c08_ok_probe_ms_max_after', Math.max(...probes))
      figure('c08_ok_probes', probes.length)
      const alive = cluster.nodes.map(n => n.proc.describeDeath())
      figure('c08_nodes_alive', alive.filter(a => a === 'alive').length)
      assert.deepEqual(alive, cluster.nodes.map(() => 'alive'), 'a node died on the poisoned entry')

      const result = await checkRooms(cluster, byRoom(all), { allowUndecodable: true })
      figure('c08_converge_ms', result.convergeMs)
      figure('c08_undecodable_left_in_stream', result.undecodable)
      const totals = await liveMetricTotals(cluster, 'tandem_cluster_poisoned_entries_total', 'tandem_cluster_resyncs_total')
      const poisoned = totals.tandem_cluster_poisoned_entries_total
      const resyncs = totals.tandem_cluster_resyncs_total
      figure('c08_poisoned_entries_metric', poisoned)
      figure('c08_resyncs_metric', resyncs)
      assert.ok(Math.max(...probes) < 5000, `an edit in an unpoisoned room took ${Math.max(...probes).toFixed(0)} ms`)
      assert.ok(poisoned >= 1, 'no node counted the poisoned entry (tandem_cluster_poisoned_entries_total)')
    } finally {
      leaveAll(all)
    }
  })
})
