// Issue #17, "Also": malformed HTTP framing (duplicate Content-Length, Content-Length with
// Transfer-Encoding, bare LF line endings) was answered by a silent close instead of 400, and
// `Transfer-Encoding: xchunked` was taken as "no body". Both ports: serve's and the store's.
import { test } from 'node:test'
import { Checks, figure, startServe, startStore, rawHttp, SECRET, Y } from './lib.mjs'

const snapshot = (() => {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'framing')
  return Buffer.from(Y.encodeStateAsUpdate(doc))
})()

const auth = `Authorization: Bearer ${SECRET}\r\n`

// {name, head, body, ok: accepted statuses, extra: a further check on the response}
const requests = (kind) => {
  const post = kind === 'store' ? 'POST /collaboration/snapshot?roomId=framing HTTP/1.1' : 'POST /healthz HTTP/1.1'
  const get = kind === 'store' ? 'GET /collaboration/snapshot?roomId=framing HTTP/1.1' : 'GET /healthz HTTP/1.1'
  const h = kind === 'store' ? auth : ''
  const n = snapshot.length
  return [
    { name: 'duplicate Content-Length', head: `${post}\r\nHost: t\r\n${h}Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n\r\n`, body: snapshot, ok: [400] },
    {
      name: 'Content-Length + Transfer-Encoding',
      head: `${post}\r\nHost: t\r\n${h}Content-Length: ${n}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      body: Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), snapshot, Buffer.from('\r\n0\r\n\r\n')]),
      ok: [400]
    },
    { name: 'bare LF line endings', head: `${get}\nHost: t\n${h.replace('\r\n', '\n')}\n`, body: Buffer.alloc(0), ok: [400] },
    { name: 'Transfer-Encoding: xchunked (GET)', head: `${get}\r\nHost: t\r\n${h}Transfer-Encoding: xchunked\r\n\r\n`, body: Buffer.alloc(0), ok: [501, 400] },
    {
      name: 'Transfer-Encoding: xchunked (POST with a body)',
      head: `${post}\r\nHost: t\r\n${h}Transfer-Encoding: xchunked\r\n\r\n`,
      body: snapshot,
      ok: [501, 400],
      extra: (res) => !/invalid_snapshot/.test(res.raw) // refused for the framing, not as an "empty" snapshot
    }
  ]
}

for (const kind of ['serve', 'store']) {
  test(`${kind}: malformed framing -> 400, unknown transfer coding -> 501 (never a silent close, never an empty body)`, { timeout: 60000 }, async () => {
    const c = new Checks('HTTP')
    const proc = kind === 'store' ? await startStore() : await startServe()
    try {
      for (const { name, head, body, ok, extra } of requests(kind)) {
        const res = await rawHttp(proc.port, Buffer.concat([Buffer.from(head, 'latin1'), body]), { timeoutMs: 3000 })
        const first = res.head.split('\r\n')[0] || (res.closed ? 'silent close' : 'no answer (connection left open)')
        const errorCode = (res.raw.match(/"error":"([a-z_]+)"/) ?? [])[1]
        figure('HTTP', `${kind}.${name.replace(/[^a-z0-9+]+/gi, '_')}`, `${first}${errorCode ? ` (${errorCode})` : ''}`)
        c.check(ok.includes(res.status), `${kind}, ${name}: status ${ok.join(' or ')} (got ${first})`)
        if (extra) c.check(extra(res), `${kind}, ${name}: refused for its framing (got ${first}${errorCode ? ` ${errorCode}` : ''})`)
      }
      c.equal(`${kind} alive`, proc.describeDeath(), 'alive')
    } finally {
      await proc.stop()
      proc.cleanup()
    }
    c.done()
  })
}
