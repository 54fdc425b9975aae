// `tandem serve` with real clients: stock y-websocket and y-partykit providers (yjs 13.6) edit,
// disconnect, reconnect and must converge; awareness and query-awareness as y-protocols speak
// them; each auth mode admits and refuses with the documented close codes; bad input gets its
// code and disturbs nothing else.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  TandemServer, wsClient, partyClient, synced, waitFor, destroyAll, rawSocket, closeOf,
  signJwt, docJson, serverDocJson, sleep, sameJson, syncStep1Message, updateMessage,
  parseMessage
} from './server_harness.mjs'

describe('sync with stock providers', () => {
  let server
  before(async () => { server = await TandemServer.start() })
  after(async () => { await server.stop() })

  test('y-websocket clients editing text, map and array concurrently converge', async () => {
    const clients = [0, 1, 2].map(() => wsClient(server, 'converge'))
    await Promise.all(clients.map(c => synced(c.provider)))
    for (let round = 0; round < 20; round++) {
      clients.forEach((c, i) => {
        c.doc.transact(() => {
          const text = c.doc.getText('text')
          text.insert(Math.min(round, text.length), `c${i}r${round} `)
          c.doc.getMap('map').set(`k${round % 5}`, `c${i}-${round}`)
          const nested = new Y.Map()
          nested.set('by', i)
          c.doc.getArray('array').push([round, nested])
          if (round % 4 === 3 && text.length > 3) text.delete(1, 2)
        })
      })
    }
    await waitFor(() => clients.every(c => sameJson(docJson(c.doc), docJson(clients[0].doc))) &&
      clients[0].doc.getArray('array').length === 120, 'clients to converge')
    assert.deepEqual(await serverDocJson(server, 'converge'), docJson(clients[0].doc))
    destroyAll(...clients)
  })

  test('y-partykit and y-websocket clients share a room', async () => {
    const party = partyClient(server, 'mixed', { party: 'main' })
    const ws = wsClient(server, 'mixed')
    await synced(party.provider, 'partykit sync')
    await synced(ws.provider)
    party.doc.getText('text').insert(0, 'from partykit')
    ws.doc.getMap('map').set('from', 'y-websocket')
    await waitFor(() => ws.doc.getText('text').toString() === 'from partykit' &&
      party.doc.getMap('map').get('from') === 'y-websocket', 'both edits to cross')
    destroyAll(party, ws)
  })

  test('a client that edits while disconnected catches up on reconnect, both ways', async () => {
    const a = wsClient(server, 'offline')
    const b = partyClient(server, 'offline')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('text').insert(0, 'before ')
    await waitFor(() => b.doc.getText('text').toString() === 'before ', 'first edit')
    a.provider.disconnect()
    a.doc.getText('text').insert(7, 'offline-a ')
    b.doc.getArray('array').push(['while-a-away'])
    await sleep(100)
    assert.equal(b.doc.getText('text').toString(), 'before ')
    a.provider.connect()
    await waitFor(() => sameJson(docJson(a.doc), docJson(b.doc)) &&
      a.doc.getArray('array').length === 1, 'reconnected clients to converge')
    assert.equal(a.doc.getText('text').toString(), 'before offline-a ')
    destroyAll(a, b)
  })

  test('a late joiner receives the whole document from the server alone', async () => {
    const a = wsClient(server, 'late')
    await synced(a.provider)
    for (let i = 0; i < 200; i++) a.doc.getText('text').insert(0, 'x')
    await waitFor(async () => (await serverDocJson(server, 'late')).text.length === 200,
      'the server to hold all edits')
    destroyAll(a)
    const late = wsClient(server, 'late')
    await synced(late.provider)
    assert.equal(late.doc.getText('text').length, 200)
    destroyAll(late)
  })

  test('awareness appears on others, is answered to query-awareness, and disappears on leave', async () => {
    const a = wsClient(server, 'aware')
    const b = wsClient(server, 'aware')
    await synced(a.provider)
    await synced(b.provider)
    a.provider.awareness.setLocalStateField('user', { name: 'ada' })
    const aId = a.doc.clientID
    await waitFor(() => b.provider.awareness.getStates().get(aId)?.user?.name === 'ada',
      'a\'s awareness at b')

    // query-awareness (3) on a raw socket is answered with every state.
    const raw = await rawSocket(`${server.ws}/aware`)
    raw.socket.send(Uint8Array.of(3))
    await waitFor(() => raw.messages.some(m => {
      const d = decoding.createDecoder(m)
      if (decoding.readVarUint(d) !== 1) return false
      const tmp = new awarenessProtocol.Awareness(new Y.Doc())
      awarenessProtocol.applyAwarenessUpdate(tmp, decoding.readVarUint8Array(d), 'test')
      const found = tmp.getStates().get(aId)?.user?.name === 'ada'
      tmp.destroy()
      return found
    }), 'query-awareness answer with a\'s state')
    raw.socket.close()

    destroyAll(a)
    await waitFor(() => !b.provider.awareness.getStates().has(aId), 'a\'s awareness removed at b')
    destroyAll(b)
  })
})

describe('bad input gets its code and disturbs nothing else', () => {
  let server
  before(async () => {
    server = await TandemServer.start({
      args: ['--max-message-size', '64KiB', '--max-connections-per-room', '3']
    })
  })
  after(async () => { await server.stop() })

  test('malformed frames close only their connection with 4400; the room goes on', async () => {
    const a = wsClient(server, 'bad')
    const b = wsClient(server, 'bad')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('text').insert(0, 'kept')
    await waitFor(() => b.doc.getText('text').toString() === 'kept', 'first edit')
    const garbage = [
      Uint8Array.of(9, 9, 9), // unknown message type
      Uint8Array.of(0, 7), // unknown sync step
      Uint8Array.of(0, 2, 200), // truncated varUint8Array
      updateMessage(Uint8Array.of(1, 1, 200, 1, 0, 4, 5, 6)), // an update that does not decode
      Uint8Array.of(1, 5, 1, 2) // awareness update that does not decode
    ]
    for (const frame of garbage) {
      const raw = await rawSocket(`${server.ws}/bad`)
      raw.socket.send(frame)
      const closed = await raw.closedPromise
      assert.equal(closed.code, 4400, `frame ${Array.from(frame)}: ${closed.reason}`)
      assert.ok(closed.reason.length > 0)
    }
    b.doc.getText('text').insert(4, '!')
    await waitFor(() => a.doc.getText('text').toString() === 'kept!', 'room still syncing')
    assert.equal((await serverDocJson(server, 'bad')).text, 'kept!')
    destroyAll(a, b)
  })

  test('an oversized message closes with 1009 and is not applied', async () => {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'y'.repeat(100 * 1024))
    const raw = await rawSocket(`${server.ws}/big`)
    raw.socket.send(updateMessage(Y.encodeStateAsUpdate(doc)))
    const closed = await raw.closedPromise
    assert.equal(closed.code, 1009)
    assert.equal((await serverDocJson(server, 'big')).text, '')
  })

  test('bad room paths and ids close with 4404', async () => {
    for (const p of ['/a/b', '/parties/main', '/' + 'r'.repeat(1025), '/%00x', '/%ff%fe']) {
      const closed = await closeOf(`${server.ws}${p}`)
      assert.equal(closed.code, 4404, `${p}: ${closed.reason}`)
    }
  })

  test('room ids are URL-decoded: /a%20b and /parties/main/a%20b are one room', async () => {
    const a = wsClient(server, 'a b')
    const b = partyClient(server, 'a b')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getMap('map').set('x', 1)
    await waitFor(() => b.doc.getMap('map').get('x') === 1, 'edit across the decoded room')
    destroyAll(a, b)
  })

  test('past the per-room limit connections are refused with 4429', async () => {
    const held = await Promise.all([0, 1, 2].map(() => rawSocket(`${server.ws}/full`)))
    assert.ok(held.every(r => r.opened && !r.closed))
    const closed = await closeOf(`${server.ws}/full`)
    assert.equal(closed.code, 4429)
    for (const r of held) r.socket.close()
  })

  test('a raw client syncs with step 1 and receives exactly what it lacks', async () => {
    const a = wsClient(server, 'raw')
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'hello')
    await waitFor(async () => (await serverDocJson(server, 'raw')).text === 'hello', 'server has it')
    const mine = new Y.Doc()
    const raw = await rawSocket(`${server.ws}/raw`)
    raw.socket.send(syncStep1Message(Y.encodeStateVector(mine)))
    await waitFor(() => raw.messages.some(m => m[0] === 0 && m[1] === 1), 'sync step 2')
    Y.applyUpdate(mine, parseMessage(raw.messages.find(m => m[0] === 0 && m[1] === 1)).payload)
    assert.equal(mine.getText('text').toString(), 'hello')
    // The server greets with its own step 1.
    assert.ok(raw.messages.some(m => m[0] === 0 && m[1] === 0))
    raw.socket.close()
    destroyAll(a)
  })
})

describe('auth: jwt', () => {
  const secret = 'test-secret-for-jwt'
  let server
  const now = () => Math.floor(Date.now() / 1000)
  before(async () => {
    server = await TandemServer.start({ args: ['--auth', 'jwt', '--jwt-secret', secret] })
  })
  after(async () => { await server.stop() })

  test('admits a valid write token (query and header) and syncs', async () => {
    const token = signJwt(secret, { sub: 'u1', exp: now() + 60, rooms: ['team-*'], access: 'write' })
    const a = wsClient(server, 'team-1', { params: { token } })
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'signed')
    const raw = await rawSocket(`${server.ws}/team-1`, { headers: { Authorization: `Bearer ${token}` } })
    assert.ok(raw.opened && !raw.closed)
    raw.socket.close()
    const b = wsClient(server, 'team-1', { params: { token } })
    await waitFor(() => b.doc.getText('text').toString() === 'signed', 'edit at b')
    destroyAll(a, b)
  })

  test('refuses missing, invalid and expired tokens with 4401 and other rooms with 4403', async () => {
    const cases = [
      ['', 4401],
      ['?token=not.a.jwt', 4401],
      [`?token=${signJwt('wrong-secret', { sub: 'u', exp: now() + 60, rooms: ['*'], access: 'write' })}`, 4401],
      [`?token=${signJwt(secret, { sub: 'u', exp: now() - 10, rooms: ['*'], access: 'write' })}`, 4401],
      [`?token=${signJwt(secret, { sub: 'u', exp: now() + 60, rooms: ['other'], access: 'write' })}`, 4403]
    ]
    for (const [query, code] of cases) {
      const closed = await closeOf(`${server.ws}/team-2${query}`)
      assert.equal(closed.code, code, `${query}: ${closed.reason}`)
      assert.ok(closed.reason.length > 0)
    }
  })

  test('read-only clients receive everything but cannot change the document', async () => {
    const writeToken = signJwt(secret, { sub: 'w', exp: now() + 60, rooms: ['ro'], access: 'write' })
    const readToken = signJwt(secret, { sub: 'r', exp: now() + 60, rooms: ['ro'], access: 'read' })
    const writer = wsClient(server, 'ro', { params: { token: writeToken } })
    const reader = wsClient(server, 'ro', { params: { token: readToken } })
    await synced(writer.provider)
    await synced(reader.provider)
    writer.doc.getText('text').insert(0, 'by writer')
    await waitFor(() => reader.doc.getText('text').toString() === 'by writer', 'reader receives')
    reader.doc.getMap('map').set('sneaky', true)
    reader.provider.awareness.setLocalStateField('user', 'reader')
    await waitFor(() => writer.provider.awareness.getStates().get(reader.doc.clientID)?.user === 'reader',
      'reader awareness flows')
    await sleep(200)
    assert.equal(writer.doc.getMap('map').get('sneaky'), undefined)
    const check = wsClient(server, 'ro', { params: { token: writeToken } })
    await synced(check.provider)
    assert.equal(check.doc.getMap('map').get('sneaky'), undefined)
    assert.equal(check.doc.getText('text').toString(), 'by writer')
    assert.match(await server.metrics(), /tandem_readonly_updates_dropped_total [1-9]/)
    destroyAll(writer, reader, check)
  })
})

describe('auth: http callback', () => {
  let server, backend, backendUp = true
  const calls = []
  before(async () => {
    backend = http.createServer((req, res) => {
      let body = ''
      req.on('data', d => { body += d })
      req.on('end', () => {
        calls.push({ auth: req.headers.authorization, body: JSON.parse(body) })
        const { token } = JSON.parse(body)
        if (!backendUp || token === 'boom') { res.writeHead(500); res.end(); return }
        if (token === 'writer') {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ userId: 'w', access: 'write' }))
        } else if (token === 'reader') {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ userId: 'r', access: 'read' }))
        } else if (token === 'forbidden') {
          res.writeHead(403); res.end()
        } else {
          res.writeHead(401); res.end()
        }
      })
    })
    await new Promise(resolve => backend.listen(0, '127.0.0.1', resolve))
    server = await TandemServer.start({
      args: ['--auth', 'http', '--auth-url', `http://127.0.0.1:${backend.address().port}/auth`,
        '--auth-secret', 'backend-secret', '--auth-cache-ttl', '0ms']
    })
  })
  after(async () => { await server.stop(); backend.close() })

  test('posts {token, roomId} with the bearer secret and admits on 200', async () => {
    const a = wsClient(server, 'cb room', { params: { token: 'writer' } })
    await synced(a.provider)
    const call = calls.find(c => c.body.token === 'writer')
    assert.equal(call.auth, 'Bearer backend-secret')
    assert.equal(call.body.roomId, 'cb room')
    destroyAll(a)
  })

  test('401 -> 4401, 403 -> 4403, backend error -> 1013', async () => {
    assert.equal((await closeOf(`${server.ws}/r1?token=nobody`)).code, 4401)
    assert.equal((await closeOf(`${server.ws}/r1?token=forbidden`)).code, 4403)
    assert.equal((await closeOf(`${server.ws}/r1?token=boom`)).code, 1013)
    backendUp = false
    assert.equal((await closeOf(`${server.ws}/r1?token=writer`)).code, 1013)
    backendUp = true
  })

  test('read access from the backend makes a read-only connection', async () => {
    const w = wsClient(server, 'cb-ro', { params: { token: 'writer' } })
    const r = wsClient(server, 'cb-ro', { params: { token: 'reader' } })
    await synced(w.provider)
    await synced(r.provider)
    r.doc.getText('text').insert(0, 'nope')
    w.doc.getText('text').insert(0, 'yes')
    await waitFor(() => r.doc.getText('text').toString().includes('yes'), 'reader gets writer edits')
    await sleep(200)
    assert.equal(w.doc.getText('text').toString(), 'yes')
    destroyAll(w, r)
  })
})

describe('shutdown', () => {
  test('SIGTERM closes clients with 1001 and exits 0', async () => {
    const server = await TandemServer.start()
    const raw = await rawSocket(`${server.ws}/bye`)
    const closedP = raw.closedPromise
    const exited = server.stop('SIGTERM')
    const closed = await closedP
    assert.equal(closed.code, 1001)
    assert.equal((await exited).code, 0)
  })
})

describe('limits, keepalive and unloading', () => {
  let server
  before(async () => {
    server = await TandemServer.start({
      args: ['--max-send-queue', '1MiB', '--ping-interval', '200ms', '--room-idle-unload', '100ms',
        '--disconnect-debounce', '50ms']
    })
  })
  after(async () => { await server.stop() })

  const gauge = async (name) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await server.metrics())
    return m ? Number(m[1]) : NaN
  }

  test('a client that stops reading is closed with 1008 once its queue is full; others go on', async () => {
    // A server of its own: with the 200 ms keepalive above, the unanswered pings of the paused
    // client could drop it before the kernel's socket buffers (MiBs) and then its queue fill up.
    const server = await TandemServer.start({ args: ['--max-send-queue', '1MiB'] })
    const writer = wsClient(server, 'slow')
    const fast = wsClient(server, 'slow')
    await synced(writer.provider)
    await synced(fast.provider)
    const slow = await rawSocket(`${server.ws}/slow`)
    slow.socket._socket.pause() // stop reading: the kernel buffers fill, then the server's queue
    try {
      const chunk = 'z'.repeat(64 * 1024)
      for (let i = 0; i < 120; i++) {
        writer.doc.getArray('array').push([chunk])
        if (i % 8 === 7) await sleep(5) // a steady writer, not one burst
      }
      await waitFor(() => fast.doc.getArray('array').length === 120,
        'the fast client to get everything', 20000)
      await waitFor(async () => /tandem_queue_drops_total [1-9]/.test(await server.metrics()),
        'the slow client to be dropped', 20000)
      slow.socket._socket.resume()
      const closed = await slow.closedPromise
      assert.equal(closed.code, 1008, closed.reason)
      // A late joiner still gets the whole document (larger than the queue limit) in one frame.
      assert.equal((await serverDocJson(server, 'slow')).array.length, 120)
    } finally {
      slow.socket.terminate()
      destroyAll(writer, fast)
      await server.stop()
    }
  })

  test('a peer that answers no pings is dropped after twice the ping interval', async () => {
    await waitFor(async () => await gauge('tandem_connections') === 0, 'earlier clients gone')
    const dead = await rawSocket(`${server.ws}/dead`)
    try {
      await waitFor(async () => await gauge('tandem_connections') === 1, 'the connection counted')
      dead.socket._socket.pause() // no pong ever comes back
      await waitFor(async () => await gauge('tandem_connections') === 0, 'the silent peer dropped', 5000)
    } finally {
      dead.socket.terminate()
    }
  })

  test('a room with nobody left is unloaded once saved; metrics count loads and messages', async () => {
    const a = wsClient(server, 'unload-me')
    await synced(a.provider)
    a.doc.getText('text').insert(0, 'persisted')
    await waitFor(async () => (await serverDocJson(server, 'unload-me')).text === 'persisted', 'edit stored')
    a.provider.destroy()
    await waitFor(async () => !(await server.metrics()).includes('tandem_connections 1') &&
      await gauge('tandem_rooms_loaded') === 0, 'every room unloaded', 10000)
    // Loading it again brings the content back from storage.
    assert.equal((await serverDocJson(server, 'unload-me')).text, 'persisted')
    const metrics = await server.metrics()
    assert.match(metrics, /tandem_messages_in_total\{type="sync_step1"\} [1-9]/)
    assert.match(metrics, /tandem_room_load_seconds_total [0-9.e-]+/)
    assert.doesNotMatch(metrics, /tandem_room_load_seconds_total 0\n/)
  })
})
