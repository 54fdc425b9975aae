// D14 (issue #17): room ids with spaces, `=` and `"` were printed unescaped in logs, so a room id
// could forge log fields (seen in the store: a fake `event=rolled_back`). Every log line that
// names the room must carry it as one quoted, escaped field, and no field may be forged.
import { test } from 'node:test'
import {
  Checks, figure, startServe, startStore, openSocket, rawWs, closeWithin, storePost, storeUrl,
  logFields, SECRET, Y, sleep
} from './lib.mjs'

const ROOM = 'x" event=rolled_back y'

// Lines of `output` that name the room (its distinctive tail), with their parsed fields.
const roomLines = (output) => output.split('\n').filter(l => l.includes('rolled_back y')).map(l => ({ line: l, fields: logFields(l) }))

const checkLines = (c, who, lines, realRollbacks) => {
  c.check(lines.length > 0, `${who} logged the room at least once (${lines.length} lines)`)
  for (const { line, fields } of lines) {
    const rooms = fields.filter(([k]) => k === 'room').map(([, v]) => v)
    c.check(rooms.length === 1 && rooms[0] === ROOM, `${who}: the room is one field room=<the exact id> in: ${line.slice(0, 200)} (parsed room fields: ${JSON.stringify(rooms)})`)
  }
  const forged = lines.filter(({ fields }) => fields.some(([k, v]) => k === 'event' && v === 'rolled_back')).length
  c.equal(`${who}: lines with a parsed field event=rolled_back`, forged, realRollbacks)
}

test('serve: a room id with spaces, = and " is logged quoted and escaped', { timeout: 60000 }, async () => {
  const c = new Checks('D14')
  const server = await startServe({ logLevel: 'debug', args: ['--room-idle-unload', '200ms'] })
  try {
    const path = `/${encodeURIComponent(ROOM)}`
    // A malformed message (unknown type 99) is logged with the room.
    const r = await openSocket(`${server.ws}${path}`)
    r.socket.send(Uint8Array.of(99, 1, 2))
    await closeWithin(r, 5000)
    // A protocol error (an unmasked client frame) is logged with the room.
    const raw = await rawWs(server.port, path)
    raw.sock.write(Buffer.from([0x82, 0x01, 0x00]))
    await sleep(1000)
    raw.sock.destroy()
    await sleep(1000) // the room unloads (a debug line)
    const lines = roomLines(server.output)
    for (const { line } of lines) figure('D14', 'serve.line', line)
    checkLines(c, 'serve', lines, 0)
  } finally {
    await server.stop()
    server.cleanup()
  }
  c.done()
})

test('store: a room id with spaces, = and " is logged quoted and escaped (saves and a rollback)', { timeout: 60000 }, async () => {
  const c = new Checks('D14')
  const store = await startStore({ logLevel: 'debug' })
  try {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'one')
    const p1 = await storePost(store, ROOM, Y.encodeStateAsUpdate(doc))
    doc.getText('text').insert(3, ' two')
    const p2 = await storePost(store, ROOM, Y.encodeStateAsUpdate(doc))
    const rb = await fetch(storeUrl(store, ROOM, '/rollback') + '&version=1', { method: 'POST', headers: { Authorization: `Bearer ${SECRET}` } })
    const get = await fetch(storeUrl(store, ROOM), { headers: { Authorization: `Bearer ${SECRET}` } })
    await sleep(300)
    figure('D14', 'store.requests', `POST ${p1.status}, POST ${p2.status}, rollback ${rb.status}, GET ${get.status}`)
    const lines = roomLines(store.output)
    for (const { line } of lines) figure('D14', 'store.line', line)
    c.equal('rollback answered', rb.status, 200)
    checkLines(c, 'store', lines, 1)
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
