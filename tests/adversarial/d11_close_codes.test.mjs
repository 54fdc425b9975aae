// D11 (issue #17): invalid close codes (999, 1005 on the wire) and close reasons that are not
// UTF-8 were echoed instead of failing the connection with 1002 / 1007 (RFC 6455 §7.4, §8.1).
import { test } from 'node:test'
import { Checks, figure, startServe, rawWs, wsFrame, waitFor } from './lib.mjs'

const closePayload = (code, reason = Buffer.alloc(0)) => {
  const b = Buffer.alloc(2 + reason.length)
  b.writeUInt16BE(code, 0)
  Buffer.from(reason).copy(b, 2)
  return b
}

const cases = [
  { name: 'code 999', payload: closePayload(999), expect: 1002 },
  { name: 'code 1005 on the wire', payload: closePayload(1005), expect: 1002 },
  { name: 'code 1006 on the wire', payload: closePayload(1006), expect: 1002 },
  { name: 'code 1000 with an invalid UTF-8 reason', payload: closePayload(1000, Buffer.from([0x62, 0x79, 0xff, 0xfe])), expect: 1007 },
  { name: 'a 1-byte close payload', payload: Buffer.from([0x03]), expect: 1002 },
  { name: 'code 1000, valid reason (control: echoed)', payload: closePayload(1000, Buffer.from('bye')), expect: 1000 },
  { name: 'code 4000 (control: echoed)', payload: closePayload(4000), expect: 4000 }
]

test('close frames with invalid codes or reasons are answered 1002 / 1007', { timeout: 60000 }, async () => {
  const c = new Checks('D11')
  const server = await startServe()
  try {
    for (const k of cases) {
      const ws = await rawWs(server.port, '/close-codes')
      ws.sock.write(wsFrame(0x8, k.payload))
      try { await waitFor(() => ws.serverClose() !== null || ws.ended, 'the server close frame', 7000) } catch {}
      const got = ws.serverClose()
      ws.sock.destroy()
      figure('D11', k.name.replace(/[^a-z0-9]+/gi, '_'), got ? got.code : (ws.ended ? 'TCP close without a close frame' : 'nothing'))
      c.equal(`server close code for ${k.name}`, got?.code ?? null, k.expect)
    }
    c.equal('serve alive', server.describeDeath(), 'alive')
  } finally {
    await server.stop()
    server.cleanup()
  }
  c.done()
})
