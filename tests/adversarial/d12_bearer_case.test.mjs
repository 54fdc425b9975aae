// D12 (issue #17): `Authorization: bearer …` (lower-case scheme) was refused by serve and store;
// the auth scheme is case-insensitive (RFC 7235 §2.1).
import { test } from 'node:test'
import { Checks, figure, startServe, startStore, rawSocket, closeWithin, syncAnswer, signJwt, storeGet, storePost, SECRET, Y } from './lib.mjs'

const JWT_SECRET = 'adversarial-jwt-secret'
const now = () => Math.floor(Date.now() / 1000)

test('serve --auth jwt admits `Authorization: bearer <token>` (and BEARER)', { timeout: 60000 }, async () => {
  const c = new Checks('D12')
  const server = await startServe({ args: ['--auth', 'jwt', '--jwt-secret', JWT_SECRET] })
  try {
    const token = signJwt(JWT_SECRET, { sub: 'u', exp: now() + 300, rooms: ['*'], access: 'write' })
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const r = await rawSocket(`${server.ws}/scheme`, { headers: { Authorization: `${scheme} ${token}` } })
      const answer = r.opened ? await syncAnswer(r, { timeoutMs: 5000 }) : null
      const closed = r.closed ?? await closeWithin(r, 300)
      r.socket.terminate()
      figure('D12', `serve.${scheme}`, answer ? 'admitted, synced' : `refused ${JSON.stringify(closed)}`)
      c.check(answer !== null, `serve admits "${scheme} <token>" (got ${answer ? 'sync' : JSON.stringify(closed)})`)
    }
    c.equal('serve alive', server.describeDeath(), 'alive')
  } finally {
    await server.stop()
    server.cleanup()
  }
  c.done()
})

test('store accepts `Authorization: bearer <secret>` (and BEARER)', { timeout: 60000 }, async () => {
  const c = new Checks('D12')
  const store = await startStore()
  try {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'scheme')
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const post = await storePost(store, `scheme-${scheme}`, Y.encodeStateAsUpdate(doc), { auth: `${scheme} ${SECRET}` })
      const get = await storeGet(store, `scheme-${scheme}`, { auth: `${scheme} ${SECRET}` })
      figure('D12', `store.${scheme}`, `POST ${post.status}, GET ${get.status}`)
      c.equal(`store POST with "${scheme} <secret>"`, post.status, 200)
      c.equal(`store GET with "${scheme} <secret>"`, get.status, 200)
    }
  } finally {
    await store.stop()
    store.cleanup()
  }
  c.done()
})
