// lib0 (npm) throughput, the peer of bench/lib0_benchmark.cc. Writes the shared data set into
// the folder given as argv[2] (when `--write-data` is passed) and prints JSON results:
// { name: { ns_per_op, items } } with the same names as the C++ benchmarks.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(path.resolve('tests/interop/package.json'))
const encoding = require('lib0/encoding')
const decoding = require('lib0/decoding')
const { Prng } = await import(path.resolve('tests/interop/helpers.mjs'))

const dir = process.argv[2]
const writeData = process.argv.includes('--write-data')

const g = new Prng(42)
const N_UINT = 1_000_000
const N_STRING = 200_000
const N_ANY = 50_000

const randomString = (maxLen) => {
  let s = ''
  for (let i = g.int(maxLen); i > 0; i--) {
    const r = g.int(9)
    s += r < 7 ? String.fromCharCode(32 + g.int(94)) : r < 8 ? String.fromCodePoint(0xe0 + g.int(0x400)) : String.fromCodePoint(0x4e00 + g.int(0x1000))
  }
  return s
}
const randomAny = (depth) => {
  switch (g.int(depth > 2 ? 5 : 7)) {
    case 0: return null
    case 1: return g.bool()
    case 2: return g.int(100000)
    case 3: return g.int(1000) / 8
    case 4: case 5: return randomString(16)
    case 6: return Array.from({ length: g.int(4) }, () => randomAny(depth + 1))
    default: {
      const o = {}
      for (let i = g.int(4); i > 0; i--) o[randomString(6)] = randomAny(depth + 1)
      return o
    }
  }
}

const uints = Array.from({ length: N_UINT }, () => g.int(g.bool() ? 127 : g.bool() ? 2 ** 21 : 2 ** 40))
const strings = Array.from({ length: N_STRING }, () => randomString(40))
const anys = Array.from({ length: N_ANY }, () => {
  const o = {}
  for (let i = 1 + g.int(5); i > 0; i--) o[randomString(6)] = randomAny(0)
  return o
})

const encodeAll = (values, write) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, values.length)
  for (const v of values) write(e, v)
  return encoding.toUint8Array(e)
}
const files = {
  'lib0-varuint.bin': encodeAll(uints, encoding.writeVarUint),
  'lib0-varstring.bin': encodeAll(strings, encoding.writeVarString),
  'lib0-any.bin': encodeAll(anys, encoding.writeAny)
}
if (writeData) {
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes)
}

// Median of several timed runs after warm-up, in ns per item.
const measure = (items, fn) => {
  for (let i = 0; i < 3; i++) fn()
  const times = []
  const deadline = performance.now() + 1500
  while (times.length < 5 || (performance.now() < deadline && times.length < 50)) {
    const t0 = performance.now()
    fn()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return { ns_per_op: (times[times.length >> 1] * 1e6) / items, items }
}

let sink = 0
const decodeAll = (bytes, read) => () => {
  const d = decoding.createDecoder(bytes)
  for (let n = decoding.readVarUint(d); n > 0; n--) sink += read(d) ? 1 : 0
}
const results = {
  BM_VarUintEncode: measure(N_UINT, () => encodeAll(uints, encoding.writeVarUint)),
  BM_VarUintDecode: measure(N_UINT, decodeAll(files['lib0-varuint.bin'], decoding.readVarUint)),
  BM_VarStringEncode: measure(N_STRING, () => encodeAll(strings, encoding.writeVarString)),
  BM_VarStringDecode: measure(N_STRING, decodeAll(files['lib0-varstring.bin'], decoding.readVarString)),
  BM_AnyEncode: measure(N_ANY, () => encodeAll(anys, encoding.writeAny)),
  BM_AnyDecode: measure(N_ANY, decodeAll(files['lib0-any.bin'], decoding.readAny))
}
if (sink < 0) console.error(sink)
process.stdout.write(JSON.stringify(results, null, 2) + '\n')
