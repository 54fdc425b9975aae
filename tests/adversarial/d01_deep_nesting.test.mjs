// D1 (issue #17): deeply nested shared types must not overflow the stack of serve, store or doc.
// 75,000 Y.Arrays nested in each other (508 KB) plus a delete of the outermost crashed
// `tandem serve` (recursive delete, GC and JSON); the same bytes crashed `tandem store`'s merge,
// every serve that loaded them, and `tandem doc json|merge` on 200,000 levels.
import { test } from 'node:test'
import fs from 'node:fs'
import path from 'node:path'
import {
  Checks, figure, startServe, startStore, Probe, openSocket, closeWithin, syncAnswer, freshJoin,
  updateMessage, deepNestingUpdate, deleteUpdate, stringItemUpdate, storePost, storeGet, StubStore,
  runTandem, tempDir, missingFlags, LIMIT_CLOSE, PROBE_BOUND_MS, SECRET, RssSampler, sleep
} from './lib.mjs'

const LEVELS = Number(process.env.TANDEM_ADV_D1_LEVELS ?? 75000)
const DOC_LEVELS = Number(process.env.TANDEM_ADV_D1_DOC_LEVELS ?? 200000)

test(`serve, default limits: ${LEVELS} nested arrays + a delete of the outermost -> ${LIMIT_CLOSE}, nothing applied, serve stays up`, { timeout: 180000 }, async () => {
  const c = new Checks('D1')
  const server = await startServe({ args: ['--threads', '1'] })
  let probe
  try {
    probe = await Probe.start(server)
    const r = await openSocket(`${server.ws}/deep-default`)
    const t0 = performance.now()
    r.socket.send(updateMessage(deepNestingUpdate(LEVELS)))
    r.socket.send(updateMessage(deleteUpdate(1, 0, 1)))
    const closed = await closeWithin(r, 20000)
    figure('D1', 'default.close', closed ? `${closed.code} "${closed.reason}" after ${Math.round(performance.now() - t0)} ms` : 'none within 20 s')
    await sleep(500)
    const probeMs = await probe.once(10000)
    figure('D1', 'default.probe_ms', probeMs)
    const join = server.alive() ? await freshJoin(server, 'deep-default') : { ok: false }
    figure('D1', 'default.fresh_join', JSON.stringify(join))
    figure('D1', 'default.server', server.describeDeath())
    c.equal('serve alive after the attack', server.describeDeath(), 'alive')
    c.equal('close code of the sender', closed?.code, LIMIT_CLOSE)
    c.check(closed?.reason?.startsWith('limit:') ?? false, `close reason starts with "limit:" (got ${JSON.stringify(closed?.reason)})`)
    c.atMost('probe edit in another room (ms)', probeMs, PROBE_BOUND_MS)
    c.check(join.ok, `a fresh join of the attacked room syncs (got ${JSON.stringify(join)})`)
    c.atMost('state of the attacked room after the refusal (bytes): a refused update changes nothing', join.bytes ?? Infinity, 64)
  } finally {
    probe?.destroy()
    await server.stop()
    server.cleanup()
  }
  c.done()
})

test(`serve --max-nesting-depth 100000: ${LEVELS} nested arrays + delete are applied without a crash; joins still work`, { timeout: 240000 }, async () => {
  const c = new Checks('D1')
  const server = await startServe({ args: ['--threads', '1', '--max-nesting-depth', '100000'] })
  let probe
  try {
    probe = await Probe.start(server)
    const rss = new RssSampler(server)
    const before = server.stats()
    const r = await openSocket(`${server.ws}/deep-high`)
    probe.loop(100, 10000)
    const t0 = performance.now()
    r.socket.send(updateMessage(deepNestingUpdate(LEVELS)))
    const applied = await syncAnswer(r, { timeoutMs: 60000 })
    const insertMs = performance.now() - t0
    r.socket.send(updateMessage(deleteUpdate(1, 0, 1)))
    const deleted = await syncAnswer(r, { timeoutMs: 60000 })
    const totalMs = performance.now() - t0
    const probeMax = await probe.stopLoop()
    const peak = rss.stop()
    const join = server.alive() ? await freshJoin(server, 'deep-high', 30000) : { ok: false }
    const join2 = server.alive() ? await freshJoin(server, 'deep-high', 30000) : { ok: false }
    figure('D1', 'high.insert_ms', applied ? insertMs : `no answer (${JSON.stringify(r.closed)})`)
    figure('D1', 'high.insert_plus_delete_ms', deleted ? totalMs : `no answer (${JSON.stringify(r.closed)})`)
    figure('D1', 'high.rss_mb', `${before.rssMB.toFixed(1)} -> peak ${peak.toFixed(1)}`)
    figure('D1', 'high.probe_max_ms', probeMax)
    figure('D1', 'high.fresh_joins', JSON.stringify([join, join2]))
    figure('D1', 'high.server', server.describeDeath())
    c.check(missingFlags('serve', ['--max-nesting-depth']).length === 0, 'serve has --max-nesting-depth')
    c.equal('serve alive after the attack', server.describeDeath(), 'alive')
    c.check(applied !== null && deleted !== null, `both updates answered on the sender's connection (closed: ${JSON.stringify(r.closed)})`)
    c.check(join.ok && join2.ok, 'fresh joins of the attacked room sync')
    c.atMost('probe edit in another room during the attack (ms)', probeMax, PROBE_BOUND_MS)
  } finally {
    probe?.destroy()
    await server.stop()
    server.cleanup()
  }
  c.done()
})

test(`store: ${LEVELS} nested arrays + delete POSTed over a stored version (a merge) -> store stays up, GET works`, { timeout: 240000 }, async () => {
  const c = new Checks('D1')
  const store = await startStore()
  try {
    const seed = await storePost(store, 'deep', stringItemUpdate({ client: 99, clock: 0, text: 'seed' }))
    const deep = deepNestingUpdate(LEVELS, { deleteFirst: true })
    let post, fresh
    try { post = await storePost(store, 'deep', deep, { timeoutMs: 120000 }) } catch (e) { post = { status: `no answer (${e.name})` } }
    try { fresh = await storePost(store, 'deep-fresh', deepNestingUpdate(LEVELS), { timeoutMs: 120000 }) } catch (e) { fresh = { status: `no answer (${e.name})` } }
    let get
    try { get = await storeGet(store, 'deep') } catch (e) { get = { status: `no answer (${e.name})` } }
    figure('D1', 'store.post_status', `seed ${seed.status}, merge ${post.status} ${post.json?.error ?? ''}, fresh room ${fresh.status} ${fresh.json?.error ?? ''}`)
    figure('D1', 'store.get_status', get.status)
    figure('D1', 'store.server', store.describeDeath())
    c.equal('store alive after the POSTs', store.describeDeath(), 'alive')
    c.check(post.status === 200 || post.status === 400, `merge POST answered 200 or 400 (got ${post.status})`)
    c.check(fresh.status === 200 || fresh.status === 400, `fresh-room POST answered 200 or 400 (got ${fresh.status})`)
    c.equal('GET after the POSTs', get.status, 200)
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})

test(`doc json / doc merge on ${DOC_LEVELS} nested arrays exit normally`, { timeout: 300000 }, async () => {
  const c = new Checks('D1')
  const dir = tempDir('tandem-adv-doc-')
  try {
    const deep = path.join(dir, 'deep.bin')
    const del = path.join(dir, 'delete.bin')
    const both = path.join(dir, 'deep-deleted.bin')
    fs.writeFileSync(deep, deepNestingUpdate(DOC_LEVELS))
    fs.writeFileSync(del, deleteUpdate(1, 0, 1))
    fs.writeFileSync(both, deepNestingUpdate(DOC_LEVELS, { deleteFirst: true }))
    const runs = {
      json: await runTandem(['doc', 'json', deep]),
      'json(deleted)': await runTandem(['doc', 'json', both]),
      merge: await runTandem(['doc', 'merge', deep, del, '-o', path.join(dir, 'out.bin')])
    }
    for (const [name, r] of Object.entries(runs)) {
      const sanitizer = /AddressSanitizer|runtime error:/.test(r.stderr)
      figure('D1', `doc.${name}`, `code=${r.code} signal=${r.signal} ms=${r.ms} stdout=${r.stdoutBytes}B${sanitizer ? ' SANITIZER: ' + r.stderr.split('\n').find(l => /Sanitizer|runtime error/.test(l)) : r.code ? ' stderr: ' + r.stderr.trim().split('\n')[0]?.slice(0, 160) : ''}`)
      c.check(r.signal === null && !r.timedOut, `doc ${name}: not killed by a signal or the deadline (signal ${r.signal}, ${r.ms} ms)`)
      // 0, or `tandem doc`'s failure code (2; 1 also accepted) with a message.
      c.check([0, 1, 2].includes(r.code), `doc ${name}: exit code 0, or 1/2 with a message (got ${r.code})`)
      c.check(!sanitizer, `doc ${name}: no sanitizer report (a crash under ASan exits 1)`)
      if (r.code !== 0) c.check(r.stderr.trim().length > 0 && !sanitizer, `doc ${name}: exit ${r.code} comes with a message (${JSON.stringify(r.stderr.trim().split('\n')[0]?.slice(0, 160))})`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  c.done()
})

// `snapshotUrl` serves room 'deep-stored' holding the deep document: joins must not crash serve.
const loadDeepRoom = async (c, label, snapshotUrl) => {
  const server = await startServe({
    args: ['--threads', '1', '--snapshot-url', snapshotUrl, '--snapshot-secret', SECRET, '--room-idle-unload', '200ms']
  })
  let probe
  try {
    probe = await Probe.start(server)
    const joins = []
    for (let i = 0; i < 2; i++) {
      joins.push(server.alive() ? await freshJoin(server, 'deep-stored', 60000) : { ok: false, dead: true })
      await sleep(1000) // unloaded again (idle 200 ms): the next join loads it anew
    }
    const probeMs = server.alive() ? await probe.once(10000) : Infinity
    figure('D1', `${label}.joins`, JSON.stringify(joins))
    figure('D1', `${label}.probe_ms`, probeMs)
    figure('D1', `${label}.server`, server.describeDeath())
    c.equal(`${label}: serve alive after joins of the deep room`, server.describeDeath(), 'alive')
    c.atMost(`${label}: probe edit in another room (ms)`, probeMs, PROBE_BOUND_MS)
  } finally {
    probe?.destroy()
    await server.stop()
    server.cleanup()
  }
}

test(`serve loading a room whose snapshot holds ${LEVELS} nested arrays + delete stays up on every join`, { timeout: 300000 }, async () => {
  const c = new Checks('D1')
  const deep = deepNestingUpdate(LEVELS, { deleteFirst: true })
  // A stub store: serves the bytes whatever a real store would accept.
  const stub = await StubStore.start()
  stub.snapshots.set('deep-stored', deep)
  try {
    await loadDeepRoom(c, 'load_stub', stub.url)
    figure('D1', 'load_stub.store_gets', stub.gets.filter(g => g === 'deep-stored').length)
  } finally {
    await stub.close()
  }
  // The real store, when it accepts the bytes (a fixed store may refuse them with 400).
  const store = await startStore()
  try {
    let post
    try { post = await storePost(store, 'deep-stored', deep, { timeoutMs: 120000 }) } catch (e) { post = { status: `no answer (${e.name})` } }
    figure('D1', 'load_store.post', `${post.status} ${post.json?.error ?? ''}`)
    c.equal('store alive after the POST', store.describeDeath(), 'alive')
    if (post.status === 200) await loadDeepRoom(c, 'load_store', store.http)
    else figure('D1', 'load_store.skipped', 'the store did not keep the deep document')
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
