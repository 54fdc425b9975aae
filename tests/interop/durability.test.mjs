// Durable rooms end to end: the real `tandem serve` with real yjs clients, against a test snapshot
// store (an HTTP server in this file that records every request and fails, hangs or refuses
// connections on command). Intervals are short (300 ms saves, 150 ms debounce) so the lifecycle
// runs in seconds; sleeps only ever prove that something did NOT happen within a few intervals.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import * as Y from 'yjs'
import {
  syncStep1Message, updateMessage, parseMessage,
  TandemServer as Server, wsClient as client, synced, waitFor, destroyAll, rawSocket, closeOf,
  docJson, serverDocJson, sleep, sameJson, tempDir
} from './server_harness.mjs'

// Whatever a failed test leaves running is stopped at the end, so the process can exit.
const live = { servers: new Set(), clients: new Set(), stores: new Set() }
const TandemServer = {
  async start (opts) {
    const s = await Server.start(opts)
    live.servers.add(s)
    return s
  }
}
const wsClient = (...args) => {
  const c = client(...args)
  live.clients.add(c)
  return c
}
after(async () => {
  for (const c of live.clients) destroyAll(c)
  await Promise.all([...live.servers].map(s => s.stop('SIGKILL')))
  await Promise.all([...live.stores].map(s => s.close()))
})

const SECRET = 's3cr3t token/+=.~'
const INTERVAL = 300
const DEBOUNCE = 150

// Flags for a server saving to `store` on the short test cadence.
const storeArgs = (store, { interval = `${INTERVAL}ms`, debounce = `${DEBOUNCE}ms`, timeout = '500ms' } = {}) => [
  '--snapshot-url', store.url, '--snapshot-secret', SECRET,
  '--save-interval', interval, '--disconnect-debounce', debounce,
  '--snapshot-timeout', timeout, '--save-retry', '100ms', '--room-idle-unload', '200ms'
]

// RFC 3986 percent-encoding (unreserved characters only), what the server must send.
const strictEncode = (s) => encodeURIComponent(s)
  .replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())

// The snapshot store contract (POST/GET /collaboration/snapshot?roomId=…, Bearer secret), which
// records every request and can answer 500, hang (never answer) or refuse connections.
class TestStore {
  static async start () {
    const s = new TestStore()
    live.stores.add(s)
    s.requests = []
    s.snapshots = new Map()
    s.mode = 'ok' // ok | 500 | hang | refuse
    s.hanging = []
    s.sockets = new Set()
    s.getDelayMs = 0
    s.postDelayMs = 0
    s.port = 0
    await s.listen()
    return s
  }

  async listen () {
    this.server = http.createServer((req, res) => this.handle(req, res))
    this.server.on('connection', sock => {
      this.sockets.add(sock)
      sock.on('close', () => this.sockets.delete(sock))
    })
    await new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, '127.0.0.1', 4096, resolve)
    })
    this.port = this.server.address().port
  }

  get url () { return `http://127.0.0.1:${this.port}` }

  handle (req, res) {
    const chunks = []
    req.on('data', c => chunks.push(c))
    req.on('end', async () => {
      const u = new URL(req.url, 'http://store')
      const q = req.url.indexOf('?')
      const rawQuery = q < 0 ? '' : req.url.slice(q + 1)
      const r = {
        method: req.method,
        path: u.pathname,
        rawQuery,
        roomId: rawQuery.startsWith('roomId=') ? decodeURIComponent(rawQuery.slice(7)) : null,
        auth: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: new Uint8Array(Buffer.concat(chunks)),
        at: Date.now(),
        status: null
      }
      this.requests.push(r)
      const answer = (status, body) => {
        r.status = status
        r.answeredAt = Date.now()
        res.writeHead(status, { 'content-type': 'application/octet-stream' }).end(body)
      }
      if (this.mode === 'hang') { this.hanging.push(res); return }
      if (this.mode === '500') return answer(500, 'store down')
      if (req.method === 'GET' && this.getDelayMs > 0) await sleep(this.getDelayMs)
      if (req.method === 'POST' && this.postDelayMs > 0) await sleep(this.postDelayMs)
      if (r.auth !== `Bearer ${SECRET}`) return answer(401, 'unauthorized')
      if (r.path !== '/collaboration/snapshot' || r.roomId === null) return answer(400, 'bad request')
      if (req.method === 'POST') {
        this.snapshots.set(r.roomId, r.body)
        return answer(200, 'ok')
      }
      const stored = this.snapshots.get(r.roomId)
      return stored ? answer(200, Buffer.from(stored)) : answer(404, 'none')
    })
  }

  // Changes how requests are answered; 'refuse' closes the listener (connections are refused).
  async setMode (mode) {
    if (this.mode === 'refuse' && mode !== 'refuse') await this.listen()
    if (mode !== 'hang') {
      for (const res of this.hanging) res.destroy()
      this.hanging = []
    }
    if (mode === 'refuse') {
      await new Promise(resolve => {
        this.server.close(resolve)
        for (const s of this.sockets) s.destroy()
      })
    }
    this.mode = mode
  }

  // Successful saves of `room`, in order.
  saves (room) {
    return this.requests.filter(r => r.method === 'POST' && r.roomId === room && r.status === 200)
  }

  posts (room) { return this.requests.filter(r => r.method === 'POST' && r.roomId === room) }
  gets (room) { return this.requests.filter(r => r.method === 'GET' && r.roomId === room) }

  async close () {
    if (this.closed) return
    this.closed = true
    await this.setMode('ok')
    await new Promise(resolve => { this.server.close(resolve); for (const s of this.sockets) s.destroy() })
  }
}

// The JSON of a snapshot as yjs decodes it.
const snapshotJson = (bytes) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, bytes)
  return docJson(doc)
}

const docWith = (text, mapEntries = {}) => {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, text)
  for (const [k, v] of Object.entries(mapEntries)) doc.getMap('map').set(k, v)
  return doc
}


// Counts how often a provider lost its connection.
const trackCloses = (client) => {
  client.closes = 0
  client.provider.on('connection-close', () => { client.closes++ })
  return client
}

describe('saving to the snapshot store', () => {
  let store, server
  before(async () => {
    store = await TestStore.start()
    server = await TandemServer.start({ args: storeArgs(store) })
  })
  after(async () => { await server.stop(); await store.close() })

  test('periodic saves while connected, only when changed; bytes, auth and roomId exact', async () => {
    const room = 'Café notes ✓ #1 & co=50%+ (draft)!\'*~?'
    const a = wsClient(server, encodeURIComponent(room))
    const b = wsClient(server, encodeURIComponent(room))
    await synced(a.provider)
    await synced(b.provider)
    // A cold room asked the store first (404: none), with the exact URL and secret.
    const gets = store.gets(room)
    assert.equal(gets.length, 1)
    assert.equal(gets[0].rawQuery, `roomId=${strictEncode(room)}`)
    assert.equal(gets[0].auth, `Bearer ${SECRET}`)
    // Connected but empty: several ticks pass and nothing is sent.
    await sleep(3 * INTERVAL)
    assert.equal(store.posts(room).length, 0, 'no save of an empty document')

    // Continuous edits for ~1.5 s: saves come on the cadence, not per edit.
    const editsStart = Date.now()
    let n = 0
    while (Date.now() - editsStart < 5 * INTERVAL) {
      a.doc.getText('text').insert(a.doc.getText('text').length, `e${n++} `)
      b.doc.getMap('map').set(`k${n % 7}`, n)
      await sleep(25)
    }
    await waitFor(() => sameJson(docJson(a.doc), docJson(b.doc)), 'clients to converge')
    await waitFor(() => {
      const s = store.saves(room)
      return s.length > 0 && sameJson(snapshotJson(s.at(-1).body), docJson(a.doc))
    }, 'a save with the final content')
    const saves = store.saves(room)
    assert.ok(saves.length >= 3 && saves.length <= 8,
      `${saves.length} saves for ~${5 * INTERVAL} ms of edits at a ${INTERVAL} ms interval`)
    for (let i = 1; i < saves.length; i++) {
      const gap = saves[i].at - saves[i - 1].at
      assert.ok(gap >= INTERVAL * 0.6, `saves ${gap} ms apart, expected ~${INTERVAL}`)
    }
    for (const s of saves) {
      assert.equal(s.path, '/collaboration/snapshot')
      assert.equal(s.rawQuery, `roomId=${strictEncode(room)}`)
      assert.equal(s.roomId, room)
      assert.equal(s.auth, `Bearer ${SECRET}`)
      assert.equal(s.contentType, 'application/octet-stream')
    }
    assert.equal(store.posts(room).length, saves.length, 'every save succeeded')
    // Unchanged since the last save: nothing more is sent.
    const count = store.posts(room).length
    await sleep(3 * INTERVAL)
    assert.equal(store.posts(room).length, count, 'no save of an unchanged document')
    // The saved bytes are the room as a fresh client sees it.
    assert.deepEqual(snapshotJson(store.snapshots.get(room)), await serverDocJson(server, encodeURIComponent(room)))
    destroyAll(a, b)
  })

  test('last leave saves once after the debounce; rejoining inside the window cancels it', async () => {
    const a = wsClient(server, 'debounce')
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'one ')
    await waitFor(() => store.saves('debounce').length === 1, 'the periodic save')
    // Right after a tick: edit and leave; only the debounce can save this.
    a.doc.getText('text').insert(4, 'two')
    const left = Date.now()
    destroyAll(a)
    await waitFor(() => store.saves('debounce').length === 2, 'the debounce save')
    const save = store.saves('debounce')[1]
    assert.ok(save.at - left >= DEBOUNCE * 0.8, `saved ${save.at - left} ms after the leave`)
    assert.equal(snapshotJson(save.body).text, 'one two')
    await sleep(3 * INTERVAL)
    assert.equal(store.posts('debounce').length, 2, 'exactly one save after the leave')

    // Leave and rejoin inside the window: no debounce save; the periodic cadence resumes.
    const c = wsClient(server, 'rejoin')
    await synced(c.provider)
    c.doc.getText('text').insert(0, 'first ')
    await waitFor(() => store.saves('rejoin').length === 1, 'the periodic save')
    c.doc.getText('text').insert(6, 'second')
    const leftAt = Date.now()
    destroyAll(c)
    await sleep(DEBOUNCE / 3)
    const d = wsClient(server, 'rejoin')
    await synced(d.provider)
    const rejoined = Date.now()
    assert.ok(rejoined - leftAt < DEBOUNCE, `rejoined ${rejoined - leftAt} ms after leaving`)
    await sleep(Math.max(0, leftAt + DEBOUNCE + 100 - Date.now()))
    assert.equal(store.posts('rejoin').length, 1, 'no debounce save after a rejoin in the window')
    await waitFor(() => store.saves('rejoin').length === 2, 'the periodic save after the rejoin')
    const resumed = store.saves('rejoin')[1]
    assert.ok(resumed.at - rejoined >= INTERVAL * 0.6,
      `periodic save ${resumed.at - rejoined} ms after the rejoin`)
    assert.equal(snapshotJson(resumed.body).text, 'first second')
    d.doc.getText('text').insert(0, '>')
    await waitFor(() => store.saves('rejoin').length === 3, 'periodic saving goes on')
    assert.equal(snapshotJson(store.saves('rejoin')[2].body).text, '>first second')
    destroyAll(d)
  })
})

describe('cold start', () => {
  let store
  before(async () => { store = await TestStore.start() })
  after(async () => { await store.close() })

  test('hydrates from the store before answering; local state wins afterwards', async () => {
    const seed = docWith('from the store', { k: 'v' })
    store.snapshots.set('cold', Y.encodeStateAsUpdate(seed))
    store.getDelayMs = 300 // the first client must wait for this answer
    const dataDir = tempDir()
    let server = await TandemServer.start({ args: storeArgs(store), dataDir })
    const raw = await rawSocket(`${server.ws}/cold`)
    await waitFor(() => raw.messages.length > 0, 'the server\'s greeting')
    const greetedAt = Date.now()
    const get = store.gets('cold')
    assert.equal(get.length, 1)
    assert.ok(get[0].answeredAt <= greetedAt, 'greeted only after the store answered')
    // The greeting's state vector already has the snapshot's client.
    const greeting = parseMessage(raw.messages[0])
    assert.equal(greeting.syncType, 0)
    assert.ok(Y.decodeStateVector(greeting.payload).get(seed.clientID) > 0)
    raw.socket.send(syncStep1Message(Uint8Array.of(0)))
    await waitFor(() => raw.messages.some(m => parseMessage(m).syncType === 1), 'sync step 2')
    assert.deepEqual(snapshotJson(parseMessage(raw.messages.find(m => parseMessage(m).syncType === 1)).payload),
      docJson(seed))
    raw.socket.close()
    // A provider's first sync has the content too.
    const c = wsClient(server, 'cold')
    let atFirstSync = null
    c.provider.once('sync', () => { atFirstSync = docJson(c.doc) })
    await synced(c.provider)
    assert.deepEqual(atFirstSync, docJson(seed))
    c.doc.getMap('map').set('local', 'edit')
    await waitFor(async () => (await serverDocJson(server, 'cold')).map.local === 'edit', 'the edit')
    destroyAll(c)
    assert.equal((await server.stop()).code, 0)
    assert.equal(snapshotJson(store.snapshots.get('cold')).map.local, 'edit', 'saved at shutdown')

    // The store now holds something else (e.g. another server's stale save): local state wins.
    store.getDelayMs = 0
    store.snapshots.set('cold', Y.encodeStateAsUpdate(docWith('stale store copy')))
    server = await TandemServer.start({ args: storeArgs(store), dataDir })
    assert.deepEqual(await serverDocJson(server, 'cold'),
      { ...docJson(seed), map: { k: 'v', local: 'edit' } })
    assert.equal(store.gets('cold').length, 1, 'a room with local state does not ask the store')
    await server.stop()
  })

  test('store down at cold start: 1013, no empty overwrite; loads once the store is back', async () => {
    const seed = docWith('precious')
    const seedBytes = Y.encodeStateAsUpdate(seed)
    store.snapshots.set('down', seedBytes)
    const server = await TandemServer.start({ args: storeArgs(store) })
    await store.setMode('500')
    assert.equal((await closeOf(`${server.ws}/down`)).code, 1013)
    await store.setMode('refuse')
    assert.equal((await closeOf(`${server.ws}/down`)).code, 1013)
    await store.setMode('hang')
    assert.equal((await closeOf(`${server.ws}/down`)).code, 1013, 'a store timeout is an error too')
    // A provider connecting meanwhile is refused too, and keeps retrying.
    const p = trackCloses(wsClient(server, 'down'))
    await waitFor(() => p.closes > 0, 'the provider to be refused')
    assert.equal(p.provider.synced, false)
    await sleep(INTERVAL + DEBOUNCE)
    assert.equal(store.posts('down').length, 0, 'nothing was saved over the real snapshot')
    assert.equal(store.snapshots.get('down'), seedBytes)

    await store.setMode('ok')
    const c = wsClient(server, 'down')
    await synced(c.provider)
    assert.deepEqual(docJson(c.doc), docJson(seed))
    await synced(p.provider, 'the retrying provider to get in')
    assert.deepEqual(docJson(p.doc), docJson(seed))
    await sleep(INTERVAL + DEBOUNCE)
    assert.equal(store.posts('down').length, 0, 'unchanged: not saved')
    destroyAll(c, p)
    await server.stop()
  })
})

describe('store outages while clients are connected', () => {
  let store, server
  before(async () => {
    store = await TestStore.start()
    server = await TandemServer.start({ args: storeArgs(store) })
  })
  after(async () => { await server.stop(); await store.close() })

  for (const mode of ['500', 'hang', 'refuse']) {
    test(`store ${mode === 'refuse' ? 'refusing connections' : mode === 'hang' ? 'hanging' : 'answering 500'}: clients keep syncing, the next save carries everything`, async () => {
      const room = `outage-${mode}`
      const a = trackCloses(wsClient(server, room))
      const b = trackCloses(wsClient(server, room))
      await synced(a.provider)
      await synced(b.provider)
      a.doc.getText('text').insert(0, 'saved ')
      await waitFor(() => store.saves(room).length === 1, 'a first save')
      const before = store.requests.length

      await store.setMode(mode)
      for (let i = 0; i < 30; i++) {
        const c = i % 2 ? a : b
        c.doc.getArray('array').push([`${mode}-${i}`])
        await sleep(30)
      }
      await waitFor(() => a.doc.getArray('array').length === 30 && sameJson(docJson(a.doc), docJson(b.doc)),
        'clients to keep syncing during the outage')
      await sleep(INTERVAL)
      if (mode !== 'refuse') {
        assert.ok(store.posts(room).filter(r => r.status !== 200).length >= 2,
          'saves were attempted and retried during the outage')
      }
      assert.equal(store.saves(room).length, 1, 'nothing saved during the outage')
      assert.equal(server.proc.exitCode, null)

      await store.setMode('ok')
      await waitFor(() => {
        const s = store.saves(room)
        return s.length >= 2 && sameJson(snapshotJson(s.at(-1).body), docJson(a.doc))
      }, 'a save with everything after the store is back', 5000)
      assert.ok(store.requests.length > before)
      assert.equal(a.closes + b.closes, 0, 'no client was disconnected')
      assert.equal(server.proc.exitCode, null)
      destroyAll(a, b)
    })
  }
})

describe('crashes and shutdown', () => {
  let store
  before(async () => { store = await TestStore.start() })
  after(async () => { await store.close() })

  for (const compactAfter of [2000, 10]) {
    test(`kill -9 under continuous edits: every update a client received survives (compact after ${compactAfter})`, async () => {
      const dataDir = tempDir()
      const room = `crash-${compactAfter}`
      const args = [...storeArgs(store), '--compact-after', String(compactAfter)]
      let server = await TandemServer.start({ args, dataDir })
      const clients = [0, 1, 2].map(() => wsClient(server, room))
      await Promise.all(clients.map(c => synced(c.provider)))
      // Everything the server sent a client (sync step 2 and broadcasts), merged.
      const received = new Y.Doc()
      for (const c of clients) {
        c.doc.on('update', (update, origin) => {
          if (origin === c.provider) Y.applyUpdate(received, update)
        })
      }
      let n = 0
      const timers = clients.map((c, i) => setInterval(() => {
        const text = c.doc.getText('text')
        c.doc.transact(() => {
          text.insert(Math.floor(Math.random() * (text.length + 1)), `c${i}.${n++} `)
          c.doc.getMap('map').set(`c${i}`, n)
          if (n % 5 === 0 && text.length > 10) text.delete(Math.floor(Math.random() * 5), 2)
        })
      }, 4))
      await waitFor(() => received.getText('text').length > 400, 'edits to flow')
      server.proc.kill('SIGKILL')
      const { signal } = await server.exited
      assert.equal(signal, 'SIGKILL')
      timers.forEach(clearInterval)
      // They would re-send their documents and hide any loss.
      for (const c of clients) c.provider.destroy()
      const receivedSnapshot = Y.snapshot(received)

      server = await TandemServer.start({ args, dataDir })
      const fresh = wsClient(server, room)
      await synced(fresh.provider)
      // Nothing any client received is missing: merging it in changes nothing.
      const merged = new Y.Doc()
      Y.applyUpdate(merged, Y.encodeStateAsUpdate(fresh.doc))
      const before = Y.snapshot(merged)
      Y.applyUpdate(merged, Y.encodeStateAsUpdate(received))
      assert.ok(Y.equalSnapshots(before, Y.snapshot(merged)),
        'the restarted server lacks updates that clients had received')
      assert.ok(receivedSnapshot.sv.size === 3)
      for (const c of clients) {
        // Each client's own document differs at most by its own unacknowledged edits.
        const check = new Y.Doc()
        Y.applyUpdate(check, Y.encodeStateAsUpdate(fresh.doc))
        const sv = Y.encodeStateVector(check)
        Y.applyUpdate(check, Y.encodeStateAsUpdate(c.doc))
        const grown = Y.decodeStateVector(Y.encodeStateVector(check))
        for (const [client, clock] of Y.decodeStateVector(sv)) {
          if (client !== c.doc.clientID) assert.equal(grown.get(client), clock)
        }
      }
      // The crash left changes unsaved: the restarted server saves them by itself.
      await waitFor(() => {
        const s = store.saves(room)
        return s.length > 0 && sameJson(snapshotJson(s.at(-1).body), docJson(fresh.doc))
      }, 'the unsaved changes to reach the store after the restart')
      destroyAll(fresh, ...clients)
      await server.stop()
    })
  }

  test('SIGTERM saves every room with unsaved changes before exiting', async () => {
    const server = await TandemServer.start({
      args: storeArgs(store, { interval: '60s', debounce: '60s' })
    })
    const rooms = ['shut-a', 'shut-b', 'shut-c']
    const writers = rooms.map(r => wsClient(server, r))
    const readers = rooms.map(r => wsClient(server, r))
    const idle = wsClient(server, 'shut-idle')
    await Promise.all([...writers, ...readers, idle].map(c => synced(c.provider)))
    writers.forEach((w, i) => w.doc.getText('text').insert(0, `unsaved ${i}`))
    await waitFor(() => readers.every((r, i) => r.doc.getText('text').toString() === `unsaved ${i}`),
      'the edits to reach the server')
    assert.equal(store.requests.filter(r => r.method === 'POST' && r.roomId.startsWith('shut-')).length, 0)
    const { code } = await server.stop('SIGTERM')
    assert.equal(code, 0)
    rooms.forEach((r, i) => {
      assert.equal(store.saves(r).length, 1, `${r} saved once at shutdown`)
      assert.equal(snapshotJson(store.saves(r)[0].body).text, `unsaved ${i}`)
    })
    assert.equal(store.posts('shut-idle').length, 0, 'an unchanged room is not saved')
    destroyAll(...writers, ...readers, idle)
  })

  test('SIGTERM during a save in flight also saves the changes made meanwhile', async () => {
    const server = await TandemServer.start({ args: storeArgs(store, { debounce: '60s' }) })
    const a = wsClient(server, 'shut-inflight')
    const b = wsClient(server, 'shut-inflight')
    await synced(a.provider)
    await synced(b.provider)
    store.postDelayMs = 500
    a.doc.getText('text').insert(0, 'first')
    await waitFor(() => store.posts('shut-inflight').length === 1, 'a save to start')
    a.doc.getText('text').insert(5, ' second')
    await waitFor(() => b.doc.getText('text').toString() === 'first second', 'the second edit')
    const { code } = await server.stop('SIGTERM')
    store.postDelayMs = 0
    assert.equal(code, 0)
    const saves = store.saves('shut-inflight')
    assert.equal(snapshotJson(saves.at(-1).body).text, 'first second')
    destroyAll(a, b)
  })

  test('SIGTERM with the store down retries until it is back, within the shutdown timeout', async () => {
    const server = await TandemServer.start({
      args: [...storeArgs(store, { interval: '60s', debounce: '60s' }), '--shutdown-timeout', '5s']
    })
    const a = wsClient(server, 'shut-retry')
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'keep me')
    await waitFor(async () => (await serverDocJson(server, 'shut-retry')).text === 'keep me', 'the edit')
    await store.setMode('500')
    const stopped = server.stop('SIGTERM')
    await waitFor(() => store.posts('shut-retry').length > 0, 'a failing save at shutdown')
    await store.setMode('ok')
    assert.equal((await stopped).code, 0)
    assert.equal(snapshotJson(store.saves('shut-retry').at(-1).body).text, 'keep me')
    destroyAll(a)
  })

  test('SIGTERM with the store down for good: exits at the timeout, saves after the restart', async () => {
    const dataDir = tempDir()
    const args = [...storeArgs(store, { interval: '60s', debounce: '60s' }), '--shutdown-timeout', '1s']
    let server = await TandemServer.start({ args, dataDir })
    const a = wsClient(server, 'shut-down')
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'not lost')
    await waitFor(async () => (await serverDocJson(server, 'shut-down')).text === 'not lost', 'the edit')
    await store.setMode('refuse')
    const stopping = Date.now()
    assert.equal((await server.stop('SIGTERM')).code, 0)
    const took = Date.now() - stopping
    assert.ok(took < 3000, `shutdown took ${took} ms with a 1 s timeout`)
    destroyAll(a)
    await store.setMode('ok')
    assert.equal(store.saves('shut-down').length, 0)
    server = await TandemServer.start({ args: storeArgs(store), dataDir })
    await waitFor(() => store.saves('shut-down').length === 1, 'the save resumed after the restart')
    assert.equal(snapshotJson(store.saves('shut-down')[0].body).text, 'not lost')
    await server.stop()
  })
})

describe('scale', () => {
  let store, server
  before(async () => {
    store = await TestStore.start()
    // Saves come only from the debounce, so all rooms save on the same tick.
    // (A generous store timeout: 1,000 cold starts ask the store at once, on a loaded machine.)
    server = await TandemServer.start({ args: storeArgs(store, { interval: '60s', timeout: '10s' }) })
  })
  after(async () => { await server.stop(); await store.close() })

  test('1,000 rooms saving on the same tick do not stall message delivery', async (t) => {
    const ROOMS = 1000
    const sockets = []
    for (let start = 0; start < ROOMS; start += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, async (_, j) => {
        const i = start + j
        const raw = await rawSocket(`${server.ws}/many-${i}`)
        assert.ok(raw.opened, `room ${i} connected`)
        raw.socket.send(updateMessage(Y.encodeStateAsUpdate(docWith(`room ${i}`))))
        raw.socket.send(syncStep1Message(Uint8Array.of(0)))
        return raw
      }))
      sockets.push(...batch)
    }
    // Each room answers step 2 only once its update is durable.
    const holding = () => sockets.filter(r => r.messages.some(m => {
      const p = parseMessage(m)
      return p.syncType === 1 && p.payload.length > 2
    })).length
    try {
      await waitFor(() => holding() === ROOMS, 'every room to hold its update', 30000)
    } catch (e) {
      for (const r of sockets) r.socket.close()
      throw new Error(`${e.message}: ${holding()} of ${ROOMS} do, ${sockets.filter(r => r.closed).length} closed, codes ${[...new Set(sockets.filter(r => r.closed).map(r => r.closed.code))]}; ${server.output.slice(0, 1500)}`)
    }

    const a = wsClient(server, 'probe')
    const b = wsClient(server, 'probe')
    await synced(a.provider)
    await synced(b.provider)
    const latencies = []
    b.doc.getMap('map').observe(() => {
      const sent = b.doc.getMap('map').get('sentAt')
      if (sent) latencies.push(Date.now() - sent)
    })
    let probing = true
    const probe = (async () => {
      while (probing) {
        a.doc.getMap('map').set('sentAt', Date.now())
        await sleep(10)
      }
    })()
    await sleep(50)
    const closedAt = Date.now()
    for (const r of sockets) r.socket.close()
    await waitFor(() => store.requests.filter(r => r.method === 'POST' && r.roomId?.startsWith('many-')).length >= ROOMS,
      'all rooms to save', 20000)
    const span = Date.now() - closedAt
    await sleep(100)
    probing = false
    await probe
    destroyAll(a, b)

    const posts = store.requests.filter(r => r.method === 'POST' && r.roomId?.startsWith('many-'))
    assert.equal(posts.length, ROOMS, 'one save per room')
    for (const p of posts) {
      assert.equal(p.status, 200)
      assert.equal(snapshotJson(p.body).text, `room ${p.roomId.slice(5)}`)
    }
    assert.ok(latencies.length > 5, `${latencies.length} probe updates arrived`)
    const worst = Math.max(...latencies)
    t.diagnostic(`${ROOMS} saves in ${span} ms; ${latencies.length} probe updates, worst ${worst} ms`)
    assert.ok(worst < 1000, `probe update took ${worst} ms while ${ROOMS} rooms saved (in ${span} ms)`)
  })
})
