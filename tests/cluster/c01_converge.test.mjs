// Cluster scenario 1 (issue #19): clients of one room spread over the three nodes, plus many
// one-client rooms, editing at random, converge; every update costs one script call to Redis at
// most (appends close in time share one), and XADD runs only inside the append script, so
// Redis's XADD count equals the updates sent.
import { test } from 'node:test'
import {
  assert, withCluster, spread, Client, syncAll, byRoom, editFor, checkRooms, makeRng, seed, figure,
  roomName, leaveAll, totalSent, waitFor, keys, metricSum, clusterMetricNames, probeOnce, liveMetricTotals
} from './lib.mjs'

test('c01: one room over three nodes plus one-client rooms converge, one script call per update', { timeout: 150000 }, async () => {
  const rng = makeRng(seed())
  await withCluster({}, async (cluster) => {
    const shared = roomName('c01-shared')
    const clients = spread(cluster, shared, 6)
    const solos = []
    for (let i = 0; i < 24; i++) solos.push(new Client(cluster, roomName(`c01-solo${i}`), i % 3))
    const all = [...clients, ...solos]
    try {
      await syncAll(all)
      const rooms = byRoom(all)
      // cross-node delivery before the load, as a sanity figure
      const before = []
      for (let k = 0; k < 5; k++) before.push(await probeOnce(clients[k % 3], clients.filter((_, j) => j % 3 !== k % 3)))
      figure('c01_probe_cross_node_ms_max', Math.max(...before))

      const seqBefore = new Map()
      for (const room of rooms.keys()) seqBefore.set(room, (await cluster.meta(room)).seq ?? 0)
      const sentBefore = totalSent(all)
      await cluster.redis.call('CONFIG', 'RESETSTAT')
      const t0 = Date.now()
      const edits = await editFor(all, { ms: 6000, perSecond: 4, rng })
      const sent = totalSent(all) - sentBefore
      figure('c01_edits', edits)
      figure('c01_updates_sent', sent)
      assert.equal(totalSent(all, { connectedOnly: true }), totalSent(all), 'every update was sent while connected')

      // Every update that changes the document is appended once: the rooms' sequences advance by
      // the updates sent, less the few that change nothing by the time they arrive (a deletion
      // another client made first: its node applies nothing, so it appends nothing).
      const seqDelta = async () => {
        let d = 0
        for (const room of rooms.keys()) d += ((await cluster.meta(room)).seq ?? 0) - seqBefore.get(room)
        return d
      }
      let delta = 0
      let last = -1
      let lastChange = Date.now()
      await waitFor(async () => {
        delta = await seqDelta()
        if (delta !== last) { last = delta; lastChange = Date.now() }
        return delta >= sent || Date.now() - lastChange > 3000
      }, `the rooms' sequences to advance by ${sent}`, 30000).catch(() => {})
      figure('c01_updates_that_changed_nothing', sent - delta)
      figure('c01_edit_and_append_ms', Date.now() - t0)
      figure('c01_sequence_advance', delta)
      const calls = await cluster.redis.commandCalls()
      const appendXadds = calls.xadd ?? 0
      const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0)
      figure('c01_redis_xadd_calls', calls.xadd ?? 0)
      figure('c01_redis_xrange_calls', calls.xrange ?? 0)
      figure('c01_redis_xadd_appends', appendXadds)
      figure('c01_redis_evalsha_calls', calls.evalsha ?? 0)
      figure('c01_redis_eval_calls', calls.eval ?? 0)
      figure('c01_redis_commands_per_update', totalCalls / Math.max(1, sent))
      figure('c01_redis_scripts_per_update', ((calls.evalsha ?? 0) + (calls.eval ?? 0) + (calls.fcall ?? 0)) / Math.max(1, sent))
      console.log(`redis commandstats during the edits: ${JSON.stringify(calls)}`)

      const result = await checkRooms(cluster, rooms)
      figure('c01_converge_ms', result.convergeMs)
      figure('c01_check_ms', result.checkMs)
      figure('c01_stream_entries_left', result.entries)

      // metrics (names best effort: printed for the log)
      for (const n of cluster.live()) {
        const text = await cluster.metrics(n.index)
        console.log(`node ${n.id} cluster metrics: ${clusterMetricNames(text).join(' ')}`)
        const relayed = metricSum(text, 'tandem_cluster_relayed_total')
        figure(`c01_${n.id.split('-')[0]}_appends`, metricSum(text, 'tandem_cluster_appends_total') || metricSum(text, 'tandem_log_appends_total'))
        figure(`c01_${n.id.split('-')[0]}_relayed`, relayed)
        const rtc = metricSum(text, 'tandem_cluster_redis_roundtrip_seconds_count')
        if (rtc) figure(`c01_${n.id.split('-')[0]}_redis_roundtrip_ms_avg`, 1000 * metricSum(text, 'tandem_cluster_redis_roundtrip_seconds_sum') / rtc)
        const lc = metricSum(text, 'tandem_cluster_stream_lag_seconds_count') || relayed
        if (lc) figure(`c01_${n.id.split('-')[0]}_stream_lag_ms_avg`, 1000 * metricSum(text, 'tandem_cluster_stream_lag_seconds_sum') / lc)
      }
      const totals = await liveMetricTotals(cluster, 'tandem_cluster_appends_total', 'tandem_cluster_append_calls_total')
      const appends = totals.tandem_cluster_appends_total
      const appendCalls = totals.tandem_cluster_append_calls_total
      figure('c01_appends_per_script_call', appends / Math.max(1, appendCalls))
      const leases = []
      for (const room of rooms.keys()) leases.push(await cluster.lease(room))
      figure('c01_rooms_with_a_lease', leases.filter(Boolean).length)
      figure('c01_due_entries', await cluster.redis.call('ZCARD', keys.due))

      // the checks of "one script call per update"
      assert.ok(delta <= sent && delta >= sent - Math.max(3, Math.ceil(sent / 100)), `the sequences advanced by ${delta} for ${sent} updates sent`)
      assert.equal(appendXadds, delta, `XADD to room logs ran ${appendXadds} times for ${delta} appends (one XADD per append)`)
      // Appends close in time share a script call (--append-delay): never more than one per update.
      assert.ok(appendCalls >= 1 && appendCalls <= appends, `${appendCalls} append script calls for ${appends} appends (at most one each)`)
    } finally {
      leaveAll(all)
    }
  })
})
