// lib0 interop: 100,000 random values of every lib0 type round-trip both ways, byte-identical.
// JS writes -> C++ decodes and re-encodes -> same bytes, same values; C++ writes -> lib0 decodes
// and re-encodes -> same bytes, same values. The C++ tool is lib0_interop_tool.cc.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { Prng, toolPath } from './helpers.mjs'

const COUNT = Number(process.env.TANDEM_LIB0_COUNT || 100000)
const TYPES = ['varUint', 'varInt', 'varString', 'varUint8Array', 'float32', 'float64', 'bigint64', 'any',
  'rle', 'uintOptRle', 'intDiffOptRle', 'string']
const COLUMN = new Set(['rle', 'uintOptRle', 'intDiffOptRle', 'string'])

const numText = (x) => Object.is(x, -0) ? '-0' : String(x)
const hex = (b) => Buffer.from(b).toString('hex')

const describeAny = (v) => {
  if (v === undefined) return 'U'
  if (v === null) return 'N'
  if (v === true) return 'T'
  if (v === false) return 'F'
  if (typeof v === 'number') return 'n:' + numText(v)
  if (typeof v === 'bigint') return 'b:' + String(v)
  if (typeof v === 'string') return 's:' + v
  if (v instanceof Uint8Array) return 'x:' + hex(v)
  if (Array.isArray(v)) return v.map(describeAny)
  return { o: Object.keys(v).map(k => [k, describeAny(v[k])]) }
}

// Random values of each type, shaped like the C++ generator's.
const randomString = (g, maxLen) => {
  let s = ''
  for (let i = g.int(maxLen); i > 0; i--) {
    switch (g.int(4)) {
      case 0: case 1: s += String.fromCodePoint(g.int(0x7f)); break
      case 2: s += String.fromCodePoint(0x80 + g.int(0x7ff - 0x80)); break
      case 3: { let cp = 0x800 + g.int(0xffff - 0x800); if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x4e2d; s += String.fromCodePoint(cp); break }
      default: s += String.fromCodePoint(0x10000 + g.int(0x10ffff - 0x10000))
    }
  }
  return s
}
const randomBytes = (g, maxLen) => Uint8Array.from({ length: g.int(maxLen) }, () => g.int(255))
const randomFloat = (g, bytes) => {
  const view = new DataView(new ArrayBuffer(8))
  for (;;) {
    view.setUint32(0, g.uint32()); view.setUint32(4, g.uint32())
    const f = bytes === 4 ? view.getFloat32(0) : view.getFloat64(0)
    if (!Number.isNaN(f)) return f
  }
}
const randomNumber = (g) => {
  switch (g.int(5)) {
    case 0: return g.int(200) - 100
    case 1: return g.bool() ? -0 : 0
    case 2: return g.varUint() * (g.bool() ? 1 : -1)
    case 3: return randomFloat(g, 4)
    case 4: return NaN
    default: return randomFloat(g, 8)
  }
}
const randomAny = (g, depth) => {
  switch (g.int(depth > 3 ? 8 : 10)) {
    case 0: return undefined
    case 1: return null
    case 2: return g.bool()
    case 3: case 4: return randomNumber(g)
    case 5: return BigInt.asIntN(64, (BigInt(g.uint32()) << 32n) | BigInt(g.uint32()))
    case 6: case 7: return randomString(g, 12)
    case 8: return randomBytes(g, 8)
    case 9: return Array.from({ length: g.int(4) }, () => randomAny(g, depth + 1))
    default: {
      const o = {}
      for (let i = g.int(4); i > 0; i--) o[g.int(3) === 0 ? String(g.int(20)) : randomString(g, 5)] = randomAny(g, depth + 1)
      return o
    }
  }
}
const runs = (g, n, max) => {
  const out = []
  while (out.length < n) {
    const v = g.int(max)
    for (let r = g.bool() ? 1 : 1 + g.int(6); r > 0 && out.length < n; r--) out.push(v)
  }
  return out
}

// Writes one item of `type` with lib0 and returns its description.
const writeItem = (type, g, enc) => {
  switch (type) {
    case 'varUint': { const v = g.varUint(); encoding.writeVarUint(enc, v); return 'n:' + v }
    case 'varInt': { const v = g.varUint() * (g.bool() ? -1 : 1); encoding.writeVarInt(enc, v); return 'n:' + numText(v) }
    case 'varString': { const s = randomString(g, 40); encoding.writeVarString(enc, s); return 's:' + s }
    case 'varUint8Array': { const b = randomBytes(g, 40); encoding.writeVarUint8Array(enc, b); return 'x:' + hex(b) }
    case 'float32': { const f = randomFloat(g, 4); encoding.writeFloat32(enc, f); return 'n:' + numText(f) }
    case 'float64': { const f = randomFloat(g, 8); encoding.writeFloat64(enc, f); return 'n:' + numText(f) }
    case 'bigint64': { const v = BigInt.asIntN(64, (BigInt(g.uint32()) << 32n) | BigInt(g.uint32())); encoding.writeBigInt64(enc, v); return 'b:' + v }
    case 'any': { const v = randomAny(g, 0); encoding.writeAny(enc, v); return describeAny(v) }
  }
  const n = g.int(200)
  let col, values
  if (type === 'rle') {
    col = new encoding.RleEncoder(encoding.writeUint8)
    values = runs(g, n, 255)
    values.forEach(v => col.write(v))
    encoding.writeVarUint(enc, n)
    encoding.writeVarUint8Array(enc, encoding.toUint8Array(col))
    return values.map(v => 'n:' + v)
  }
  if (type === 'uintOptRle') {
    col = new encoding.UintOptRleEncoder()
    values = runs(g, n, g.bool() ? 3 : 2 ** 30)
  } else if (type === 'intDiffOptRle') {
    col = new encoding.IntDiffOptRleEncoder()
    let v = 0
    values = runs(g, n, 40).map(step => { v += step - 20; return v })
  } else {
    col = new encoding.StringEncoder()
    values = Array.from({ length: n }, () => randomString(g, g.bool() ? 2 : 25))
  }
  values.forEach(v => col.write(v))
  encoding.writeVarUint(enc, n)
  encoding.writeVarUint8Array(enc, col.toUint8Array())
  return values.map(v => type === 'string' ? 's:' + v : 'n:' + numText(v))
}

// Reads one item of `type` with lib0, writes it again to `enc`, returns its description.
const reencodeItem = (type, dec, enc) => {
  switch (type) {
    case 'varUint': { const v = decoding.readVarUint(dec); encoding.writeVarUint(enc, v); return 'n:' + v }
    case 'varInt': { const v = decoding.readVarInt(dec); encoding.writeVarInt(enc, v); return 'n:' + numText(v) }
    case 'varString': { const s = decoding.readVarString(dec); encoding.writeVarString(enc, s); return 's:' + s }
    case 'varUint8Array': { const b = decoding.readVarUint8Array(dec); encoding.writeVarUint8Array(enc, b); return 'x:' + hex(b) }
    case 'float32': { const f = decoding.readFloat32(dec); encoding.writeFloat32(enc, f); return 'n:' + numText(f) }
    case 'float64': { const f = decoding.readFloat64(dec); encoding.writeFloat64(enc, f); return 'n:' + numText(f) }
    case 'bigint64': { const v = decoding.readBigInt64(dec); encoding.writeBigInt64(enc, v); return 'b:' + v }
    case 'any': { const v = decoding.readAny(dec); encoding.writeAny(enc, v); return describeAny(v) }
  }
  const n = decoding.readVarUint(dec)
  const bytes = decoding.readVarUint8Array(dec)
  const values = []
  let out
  if (type === 'rle') {
    const d = new decoding.RleDecoder(bytes, decoding.readUint8)
    const e = new encoding.RleEncoder(encoding.writeUint8)
    for (let i = 0; i < n; i++) { const v = d.read(); e.write(v); values.push('n:' + v) }
    out = encoding.toUint8Array(e)
  } else {
    const [D, E] = { uintOptRle: [decoding.UintOptRleDecoder, encoding.UintOptRleEncoder], intDiffOptRle: [decoding.IntDiffOptRleDecoder, encoding.IntDiffOptRleEncoder], string: [decoding.StringDecoder, encoding.StringEncoder] }[type]
    const d = new D(bytes)
    const e = new E()
    for (let i = 0; i < n; i++) { const v = d.read(); e.write(v); values.push(type === 'string' ? 's:' + v : 'n:' + numText(v)) }
    out = e.toUint8Array()
  }
  encoding.writeVarUint(enc, n)
  encoding.writeVarUint8Array(enc, out)
  return values
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-lib0-'))
const tool = toolPath('LIB0_INTEROP_TOOL')

test(`JS writes ${COUNT} values of each lib0 type, C++ reads and re-encodes them byte-identically`, () => {
  const g = new Prng(20261124)
  const enc = encoding.createEncoder()
  const expected = []
  encoding.writeVarUint(enc, TYPES.length)
  for (const type of TYPES) {
    const items = encoding.createEncoder()
    const values = []
    let total = 0
    while (total < COUNT) {
      const d = writeItem(type, g, items)
      values.push(d)
      total += COLUMN.has(type) ? d.length : 1
    }
    encoding.writeVarString(enc, type)
    encoding.writeVarUint(enc, values.length)
    encoding.writeUint8Array(enc, encoding.toUint8Array(items))
    expected.push({ type, values })
  }
  const input = encoding.toUint8Array(enc)
  fs.writeFileSync(path.join(tmp, 'js.bin'), input)
  execFileSync(tool, ['reencode', path.join(tmp, 'js.bin'), path.join(tmp, 'cpp.bin'), path.join(tmp, 'cpp.json')], { stdio: 'inherit' })
  const described = JSON.parse(fs.readFileSync(path.join(tmp, 'cpp.json'), 'utf8'))
  for (let i = 0; i < TYPES.length; i++) {
    assert.equal(described[i].type, TYPES[i])
    assert.deepEqual(described[i].values, expected[i].values, `C++ read different ${TYPES[i]} values`)
  }
  assert.ok(Buffer.from(fs.readFileSync(path.join(tmp, 'cpp.bin'))).equals(Buffer.from(input)), 'C++ re-encoding differs from lib0 bytes')
})

test(`C++ writes ${COUNT} values of each lib0 type, lib0 reads and re-encodes them byte-identically`, () => {
  execFileSync(tool, ['generate', '7', String(COUNT), path.join(tmp, 'gen.bin'), path.join(tmp, 'gen.json')], { stdio: 'inherit' })
  const bytes = new Uint8Array(fs.readFileSync(path.join(tmp, 'gen.bin')))
  const described = JSON.parse(fs.readFileSync(path.join(tmp, 'gen.json'), 'utf8'))
  const dec = decoding.createDecoder(bytes)
  const enc = encoding.createEncoder()
  const sections = decoding.readVarUint(dec)
  assert.equal(sections, TYPES.length)
  encoding.writeVarUint(enc, sections)
  for (let i = 0; i < sections; i++) {
    const type = decoding.readVarString(dec)
    const n = decoding.readVarUint(dec)
    encoding.writeVarString(enc, type)
    encoding.writeVarUint(enc, n)
    const values = []
    let total = 0
    for (let j = 0; j < n; j++) {
      const d = reencodeItem(type, dec, enc)
      values.push(d)
      total += COLUMN.has(type) ? d.length : 1
    }
    assert.equal(type, described[i].type)
    assert.ok(total >= COUNT, `${type}: only ${total} values`)
    assert.deepEqual(values, described[i].values, `lib0 read different ${type} values than C++ wrote`)
  }
  assert.equal(dec.pos, bytes.length)
  assert.ok(Buffer.from(encoding.toUint8Array(enc)).equals(Buffer.from(bytes)), 'lib0 re-encoding differs from C++ bytes')
})
