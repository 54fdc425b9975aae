// D10 (issue #17): the store's merge rule took GC structs that the incoming delete set does not
// cover as covering content: stored "abcdef" (client 42), then a POST of 01 01 2a 00 00 06 00
// (client 42, clock 0: a GC of length 6, no deletions) replaced it and the text was gone.
import { test } from 'node:test'
import { Checks, figure, startStore, storePost, storeGet, Y } from './lib.mjs'

test('stored "abcdef"; POST of a bare GC over the same clocks -> the text survives', { timeout: 60000 }, async () => {
  const c = new Checks('D10')
  const store = await startStore()
  try {
    const doc = new Y.Doc()
    doc.clientID = 42
    doc.getText('text').insert(0, 'abcdef')
    const first = await storePost(store, 'merge', Y.encodeStateAsUpdate(doc))
    const gc = Uint8Array.from([0x01, 0x01, 0x2a, 0x00, 0x00, 0x06, 0x00])
    const second = await storePost(store, 'merge', gc)
    const get = await storeGet(store, 'merge')
    const stored = new Y.Doc()
    if (get.status === 200) Y.applyUpdate(stored, get.bytes)
    const text = stored.getText('text').toString()
    figure('D10', 'posts', `first ${first.status}; GC POST ${second.status} ${second.text.slice(0, 160)}`)
    figure('D10', 'stored_text_after', JSON.stringify(text))
    c.equal('first POST', first.status, 200)
    c.check(second.status === 200 || second.status === 400, `GC POST answered 200 or 400 (got ${second.status})`)
    c.equal('GET', get.status, 200)
    c.equal('text of the stored document after the GC POST', text, 'abcdef')
    c.equal('store alive', store.describeDeath(), 'alive')
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
