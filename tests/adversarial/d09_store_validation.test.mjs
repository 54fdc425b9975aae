// D9 (issue #17): the store accepted a v2 body, or a v1 update followed by trailing garbage,
// with 200 (its validator ignored bytes after the delete set); the room then loaded as an empty
// document. docs/STORE.md promises 400 invalid_snapshot and nothing stored.
import { test } from 'node:test'
import { Checks, figure, startStore, storePost, storeGet, storeUrl, SECRET, Y } from './lib.mjs'

const textDoc = (text, clientID) => {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('text').insert(0, text)
  return doc
}

const versions = async (store, room) => {
  const r = await fetch(storeUrl(store, room, '/versions'), { headers: { Authorization: `Bearer ${SECRET}` } })
  return r.ok ? (await r.json()).length : `status ${r.status}`
}

test('a v2-encoded body and a v1 update with trailing garbage -> 400 invalid_snapshot, nothing stored', { timeout: 60000 }, async () => {
  const c = new Checks('D9')
  const store = await startStore()
  try {
    // v2 to an empty room: nothing may be stored.
    const v2 = Y.encodeStateAsUpdateV2(textDoc('written as v2', 5))
    const postV2 = await storePost(store, 'v2-room', v2)
    const getV2 = await storeGet(store, 'v2-room')
    figure('D9', 'v2', `POST ${postV2.status} ${postV2.json?.error ?? postV2.text.slice(0, 80)}; GET ${getV2.status}`)
    c.equal('POST of a v2 body: status', postV2.status, 400)
    c.equal('POST of a v2 body: error', postV2.json?.error, 'invalid_snapshot')
    c.equal('GET after the refused v2 body', getV2.status, 404)

    // A good version 1, then a different v1 update + garbage: version 1 stays the latest.
    const good = Y.encodeStateAsUpdate(textDoc('version one', 6))
    const first = await storePost(store, 'trailing', good)
    const garbage = Uint8Array.from([...Y.encodeStateAsUpdate(textDoc('version two', 7)), 0x01, 0x02, 0x03, 0xff, 0x7f])
    const postTrailing = await storePost(store, 'trailing', garbage)
    const getTrailing = await storeGet(store, 'trailing')
    const stored = new Y.Doc()
    if (getTrailing.status === 200) Y.applyUpdate(stored, getTrailing.bytes)
    const n = await versions(store, 'trailing')
    figure('D9', 'trailing', `first POST ${first.status}; garbage POST ${postTrailing.status} ${postTrailing.json?.error ?? postTrailing.text.slice(0, 80)}; GET ${getTrailing.status} text=${JSON.stringify(stored.getText('text').toString())}; versions ${n}`)
    c.equal('first (valid) POST', first.status, 200)
    c.equal('POST of v1 + trailing bytes: status', postTrailing.status, 400)
    c.equal('POST of v1 + trailing bytes: error', postTrailing.json?.error, 'invalid_snapshot')
    c.equal('stored text after the refused POST', stored.getText('text').toString(), 'version one')
    c.equal('versions kept after the refused POST', n, 1)
    c.equal('store alive', store.describeDeath(), 'alive')
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
