// Shared helpers for interop tests.

// xorshift128+-like 32-bit generator: deterministic, seedable, fast enough for 10^6 values.
export class Prng {
  constructor (seed) {
    this.a = seed >>> 0 || 1
    this.b = 0x9e3779b9
    this.c = 0x243f6a88
    this.d = 0xb7e15162
    for (let i = 0; i < 16; i++) this.uint32()
  }

  uint32 () {
    // xoshiro128**
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return r
  }

  // Uniform integer in [0, max].
  int (max) {
    if (max < 2 ** 32) return Math.floor((this.uint32() / 2 ** 32) * (max + 1))
    return Math.floor(((this.uint32() * 2 ** 21 + (this.uint32() >>> 11)) / 2 ** 53) * (max + 1))
  }

  bool () { return (this.uint32() & 1) === 1 }

  // Magnitudes spread over all bit lengths up to 53.
  varUint () {
    const bits = this.int(53)
    return bits === 0 ? 0 : this.int(2 ** bits - 1)
  }
}

const rotl = (x, k) => ((x << k) | (x >>> (32 - k))) >>> 0

// Path of a C++ tool built by CMake, passed in the environment by ctest.
export const toolPath = (name) => {
  const p = process.env['TANDEM_' + name]
  if (!p) throw new Error(`TANDEM_${name} is not set: run this test through ctest`)
  return p
}
