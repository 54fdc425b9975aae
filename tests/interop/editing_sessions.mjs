// Seeded random scripts of local editing for the editing interop test (protocol:
// editing_protocol.md). One to three Y.Docs with fixed client ids run transactions of random ops
// on every shared type (nested ones reached by path, also right after they were created in the
// same transaction), sync with each other (v1 and v2), and answer queries (JSON, deltas, relative
// positions taken early and resolved late on other clients, snapshots and docs restored from
// them). Every choice looks at the current yjs state, and every step runs in yjs as it is
// generated, through the same executor the stand-in tool uses (editing_exec.mjs): what it records
// is what the C++ tool must answer. An op yjs refuses is a bug of this generator.
import * as Y from 'yjs'
import { isDeepStrictEqual } from 'node:util'
import { Prng } from './helpers.mjs'
import {
  Session, ROOTS, getRoot, kindOf, applyOp, rootsJSON, restoreSnapshot, fromHex,
  TEXT_KINDS, LIST_KINDS, MAP_KINDS, ATTR_KINDS
} from './editing_exec.mjs'

const pick = (g, arr) => arr[g.int(arr.length - 1)]
const chance = (g, p) => g.uint32() < p * 2 ** 32
const clone = (v) => JSON.parse(JSON.stringify(v))

// Client id sets: small, 2^31 and 2^32 boundaries, 7-bit varint boundary, 0.
const ID_SETS = [[1], [2], [0x7fffffff], [1, 2], [2, 1], [5, 300], [0, 2 ** 32 - 1], [1, 2, 3], [3, 1, 2],
  [10, 127, 128], [2 ** 31, 7, 2 ** 21 + 1], [42, 2 ** 31 - 1, 2 ** 32 - 2]]

// Text pieces: ASCII, 2-, 3- and 4-byte UTF-8 (astral: surrogate pairs in UTF-16), a ZWJ sequence,
// a combining mark, characters JSON escapes (newline, tab, quote, backslash, a control char).
const PIECES = ['a', 'b', 'c', 'd', 'x', 'y', 'z', ' ', ' ', 'Hello', 'é', 'ß', 'Ω', '中', '文', '€',
  '😀', '🎉', '𝄞', '👩‍💻', 'e\u0301', '\n', '\t', '"', '\\', '<', '\u0007']

const randomText = (g, max = 5) => {
  let s = ''
  for (let n = chance(g, 0.08) ? 8 + g.int(24) : 1 + g.int(max - 1); n > 0; n--) s += pick(g, PIECES)
  return s
}

// JSON-safe numbers (no NaN, Infinity, -0): varint / float32 / float64 choices of lib0's writeAny,
// JS number printing in JSON.stringify (ContentEmbed, ContentFormat, XML attribute strings).
const NUMBERS = [0, 1, -1, 7, 42, 63, 64, -64, -65, -1000, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32,
  2 ** 53 - 1, 2 ** 53, -(2 ** 53), 0.5, -3.25, 0.1, 1 / 3, 1e21, 1.5e-7, 123456.789, 2 ** 70, 1e300, 5e-324]

// Map keys; no key starts with '$' (the protocol's value tags).
const KEYS = ['a', 'b', 'c', 'title', 'done', 'ü', '😀', '', '1', '10', 'k e y']

const randomPlain = (g, depth = 0) => {
  switch (g.int(depth > 1 ? 6 : 8)) {
    case 0: return null
    case 1: return g.bool()
    case 2: case 3: return pick(g, NUMBERS)
    case 4: return g.int(1000) - 500
    case 5: case 6: return randomText(g, 4)
    case 7: return Array.from({ length: g.int(3) }, () => randomPlain(g, depth + 1))
    default: {
      const o = {}
      for (let n = g.int(3); n > 0; n--) o[pick(g, KEYS)] = randomPlain(g, depth + 1)
      return o
    }
  }
}

const randomBin = (g) => ({ $bin: Buffer.from(Array.from({ length: g.int(8) }, () => g.int(255))).toString('base64') })

const distinctKeys = (g, pool, max) => {
  const keys = []
  for (let n = g.int(max); n > 0; n--) {
    const k = pick(g, pool)
    if (!keys.includes(k)) keys.push(k)
  }
  return keys
}

const XML_NAMES = ['p', 'h1', 'ul', 'li', 'blockquote', 'Para', 'my-el']
const XML_ATTR_NAMES = ['class', 'id', 'data-x', 'href', 'title', 'ü']
const HOOK_NAMES = ['hook', 'img-hook']

// XML attribute values: mostly strings, also what toString prints with String(value).
const xmlAttrValue = (g) => {
  switch (g.int(11)) {
    case 0: return pick(g, NUMBERS)
    case 1: return g.bool()
    case 2: return null
    case 3: return { k: randomText(g, 2) }
    default: return randomText(g, 3)
  }
}

// A value V (editing_protocol.md, "Values"). Nesting is bounded; subdocuments are rare.
const randomValue = (g, ctx, depth = 0) => {
  const r = g.int(99)
  if (r < 58 || depth >= 2) return randomPlain(g)
  if (r < 68) return randomBin(g)
  if (r < 69 && depth === 0) return ctx.newSubdoc()
  return randomNested(g, ctx, depth)
}

const randomNested = (g, ctx, depth = 0) => {
  switch (g.int(10)) {
    case 0: case 1: case 2:
      ctx.count('value.Map')
      return {
        $type: 'Map',
        entries: distinctKeys(g, KEYS, 3).map(k => [k, chance(g, 0.05) ? ctx.undef() : randomValue(g, ctx, depth + 1)])
      }
    case 3: case 4:
      ctx.count('value.Array')
      return { $type: 'Array', items: Array.from({ length: g.int(3) }, () => randomValue(g, ctx, depth + 1)) }
    case 5: case 6:
      ctx.count('value.Text')
      return { $type: 'Text', text: chance(g, 0.8) ? randomText(g) : '' }
    case 7:
      ctx.count('value.XmlText')
      return { $type: 'XmlText', text: randomText(g) }
    case 8: return xmlElement(g, ctx, depth)
    default: return xmlHook(g, ctx, depth)
  }
}

const xmlElement = (g, ctx, depth) => {
  ctx.count('value.XmlElement')
  const attrs = {}
  for (const k of distinctKeys(g, XML_ATTR_NAMES, 3)) attrs[k] = xmlAttrValue(g)
  const children = depth < 2 ? Array.from({ length: g.int(2) }, () => xmlChild(g, ctx, depth + 1)) : []
  return { $type: 'XmlElement', name: pick(g, XML_NAMES), attrs, children }
}

const xmlHook = (g, ctx, depth) => {
  ctx.count('value.XmlHook')
  return { $type: 'XmlHook', name: pick(g, HOOK_NAMES), entries: distinctKeys(g, KEYS, 3).map(k => [k, randomValue(g, ctx, depth + 1)]) }
}

const xmlChild = (g, ctx, depth = 0) => {
  const r = g.int(99)
  if (r < 45) return xmlElement(g, ctx, depth)
  if (r < 90) {
    ctx.count('value.XmlText')
    return { $type: 'XmlText', text: chance(g, 0.9) ? randomText(g) : '' }
  }
  return xmlHook(g, ctx, depth)
}

// Formatting attributes. Keys are never integer-like, so object key order is insertion order in
// JS too (yjs iterates attribute objects with for..in). XmlText formats are objects or true, as
// editors use them (YXmlText.toString renders them as tags).
const TEXT_FORMATS = {
  bold: [true],
  italic: [true, false],
  color: ['#f00', '#00f', 'rgb(1, 2, 3)'],
  size: [12, 0.5, 1e21, 2 ** 31],
  link: [{ href: 'https://x.y/ü' }, { href: 'a', title: 'Zoë' }],
  header: [1, 2, 3]
}
const XML_FORMATS = { bold: [true], em: [{}], a: [{ href: 'u', title: 'ü' }], strong: [{ level: 2 }] }
const randomAttrs = (g, xml, allowNull) => {
  const formats = xml ? XML_FORMATS : TEXT_FORMATS
  const attrs = {}
  for (const k of distinctKeys(g, Object.keys(formats), 3)) attrs[k] = allowNull && chance(g, 0.3) ? null : pick(g, formats[k])
  if (Object.keys(attrs).length === 0) {
    const k = pick(g, Object.keys(formats))
    attrs[k] = pick(g, formats[k])
  }
  return attrs
}
const EMBEDS = [{ image: 'cat.png' }, { formula: 'e=mc^2' }, { mention: { id: 7, name: 'Zoë' } }, { video: '' },
  { n: 1e21, f: 1 / 3, big: 2 ** 53 }, { s: 'tab\there "q" \\ \u0001' }]
const TEXT_ATTR_KEYS = ['lang', 'level', 'data', 'ü']

// Text as UTF-16 units, one placeholder per embed (the text's length and indices).
const flatText = (t) => t.toDelta().map(d => typeof d.insert === 'string' ? d.insert : '\0').join('')
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff
const insidePair = (flat, i) => i > 0 && i < flat.length && isHigh(flat.charCodeAt(i - 1)) && isLow(flat.charCodeAt(i))

// Every shared type reachable by a path (types embedded in text have none).
const collect = (doc) => {
  const out = []
  const walk = (t, path) => {
    const kind = kindOf(t)
    out.push({ path, type: t, kind })
    if (MAP_KINDS.has(kind)) {
      for (const [k, v] of t.entries()) if (v instanceof Y.AbstractType) walk(v, [...path, k])
    } else if (LIST_KINDS.has(kind)) {
      t.toArray().forEach((v, i) => { if (v instanceof Y.AbstractType) walk(v, [...path, i]) })
    }
  }
  for (const r of ROOTS) walk(getRoot(doc, r), [r])
  return out
}

// An index into text; mostly on code point boundaries, sometimes inside a surrogate pair.
const textIndex = (g, ctx, flat, max) => {
  let i = g.int(max)
  if (insidePair(flat, i)) {
    if (chance(g, 0.3)) ctx.count('text.index-inside-pair')
    else i--
  }
  return i
}

const textOp = (g, ctx, { path, type: t, kind }) => {
  const xml = kind === 'XmlText'
  const flat = flatText(t)
  const len = flat.length
  let r = g.int(99)
  if (len === 0 && r >= 38 && r < 80) r = 0
  if (xml && r >= 38 && r < 46 && !chance(g, 0.15)) r = 0 // embeds in XmlText are rare
  if (r < 38) {
    const op = { op: 'insert', path, index: textIndex(g, ctx, flat, len), text: randomText(g) }
    const a = g.int(99)
    if (a < 10) op.attrs = {}
    else if (a < 55) op.attrs = randomAttrs(g, xml, true)
    ctx.count(`${kind}.insert${'attrs' in op ? '+attrs' : ''}`)
    return op
  }
  if (r < 46) {
    const embed = chance(g, 0.3) ? randomNested(g, ctx, 1) : pick(g, EMBEDS)
    const op = { op: 'insertEmbed', path, index: textIndex(g, ctx, flat, len), embed }
    if (chance(g, 0.5)) op.attrs = randomAttrs(g, xml, true)
    ctx.count(`${kind}.insertEmbed${'attrs' in op ? '+attrs' : ''}`)
    return op
  }
  if (r < 62) {
    const index = textIndex(g, ctx, flat, len - 1)
    const l = chance(g, 0.85) ? 1 + g.int(3) : 1 + g.int(len - index + 2)
    ctx.count(`${kind}.delete`)
    return { op: 'delete', path, index, len: l }
  }
  if (r < 78) {
    let index = textIndex(g, ctx, flat, len - 1)
    let l = chance(g, 0.8) ? 1 + g.int(4) : 1 + g.int(len - index)
    if (chance(g, 0.05)) {
      // Past the end: yjs inserts newlines (from the very end only if a format item is there).
      if (chance(g, 0.3)) index = len
      l = len - index + 1 + g.int(1)
      ctx.count('text.format-past-end')
    }
    ctx.count(`${kind}.format`)
    return { op: 'format', path, index, len: l, attrs: randomAttrs(g, xml, true) }
  }
  if (r < 90) {
    ctx.count(`${kind}.applyDelta`)
    return { op: 'applyDelta', path, delta: randomDelta(g, ctx, xml, flat) }
  }
  const key = pick(g, TEXT_ATTR_KEYS)
  if (chance(g, 0.3)) {
    ctx.count(`${kind}.removeAttribute`)
    return { op: 'removeAttribute', path, key }
  }
  ctx.count(`${kind}.setAttribute`)
  return { op: 'setAttribute', path, key, value: chance(g, 0.15) ? randomBin(g) : randomPlain(g) }
}

const randomDelta = (g, ctx, xml, flat) => {
  const len = flat.length
  const delta = []
  let p = 0
  for (let n = 1 + g.int(3); n > 0; n--) {
    const r = g.int(9)
    if (r < 3 && p < len) {
      const k = 1 + g.int(Math.min(4, len - p) - 1)
      delta.push(chance(g, 0.5) ? { retain: k, attributes: randomAttrs(g, xml, true) } : { retain: k })
      p += k
    } else if (r < 5 && p < len) {
      const k = 1 + g.int(Math.min(3, len - p) - 1)
      delta.push({ delete: k })
      p += k
    } else if (r < 8 || xml) {
      delta.push(chance(g, 0.4) ? { insert: randomText(g), attributes: randomAttrs(g, xml, true) } : { insert: randomText(g) })
    } else {
      const insert = chance(g, 0.3) ? randomNested(g, ctx, 1) : pick(g, EMBEDS)
      delta.push(chance(g, 0.4) ? { insert, attributes: randomAttrs(g, xml, false) } : { insert })
    }
  }
  if (chance(g, 0.05)) {
    delta.push({ retain: len - p + 1 + g.int(1), attributes: randomAttrs(g, xml, false) }) // past the end: newlines
    ctx.count('text.retain-past-end')
  }
  return delta
}

const listOp = (g, ctx, { path, type: t, kind }) => {
  const len = t.length
  const newValue = () => kind === 'Array' ? randomValue(g, ctx) : xmlChild(g, ctx)
  const values = () => Array.from({ length: 1 + g.int(chance(g, 0.15) ? 5 : 1) }, newValue)
  const r = g.int(99)
  if (kind === 'XmlElement' && r < 22) {
    const existing = Object.keys(t.getAttributes())
    if (chance(g, 0.3)) {
      ctx.count(`${kind}.removeAttribute`)
      return { op: 'removeAttribute', path, key: existing.length > 0 && chance(g, 0.8) ? pick(g, existing) : pick(g, XML_ATTR_NAMES) }
    }
    ctx.count(`${kind}.setAttribute`)
    return { op: 'setAttribute', path, key: pick(g, XML_ATTR_NAMES), value: xmlAttrValue(g) }
  }
  if (len === 0 || r < 55 || (len > 30 && r < 35)) {
    const s = g.int(9)
    if (s >= 8 && kind !== 'Array') {
      ctx.count(`${kind}.insertAfter`)
      return { op: 'insertAfter', path, ref: len === 0 || chance(g, 0.2) ? null : g.int(len - 1), values: values() }
    }
    if (s >= 6) {
      const op = s === 6 ? 'push' : 'unshift'
      ctx.count(`${kind}.${op}`)
      return { op, path, values: values() }
    }
    ctx.count(`${kind}.insert`)
    return { op: 'insert', path, index: g.int(len), values: values() }
  }
  const index = g.int(len - 1)
  ctx.count(`${kind}.delete`)
  return { op: 'delete', path, index, len: 1 + g.int(Math.min(len - index, chance(g, 0.8) ? 2 : len) - 1) }
}

const mapOp = (g, ctx, { path, type: t, kind }) => {
  const keys = Array.from(t.keys())
  const r = g.int(99)
  if (keys.length > 0 && r < 22) {
    ctx.count(`${kind}.delete`)
    return { op: 'delete', path, key: chance(g, 0.9) ? pick(g, keys) : pick(g, KEYS) }
  }
  if (keys.length > 0 && r < 26) {
    ctx.count(`${kind}.clear`)
    return { op: 'clear', path }
  }
  ctx.count(`${kind}.set`)
  const key = keys.length > 0 && chance(g, 0.35) ? pick(g, keys) : pick(g, KEYS)
  const value = chance(g, 0.03) ? ctx.undef() : chance(g, 0.3) ? randomNested(g, ctx) : randomValue(g, ctx)
  return { op: 'set', path, key, value }
}

const randomOp = (g, ctx, target) => {
  if (TEXT_KINDS.has(target.kind)) return textOp(g, ctx, target)
  if (LIST_KINDS.has(target.kind)) return listOp(g, ctx, target)
  if (MAP_KINDS.has(target.kind)) return mapOp(g, ctx, target)
  throw new Error(`no ops for ${target.kind}`)
}

const ASSOCS = [0, 0, -1, -1, 1, 2, -2]

// Everything a generated case needs while it is built.
class Builder {
  constructor (seed) {
    this.seed = seed
    const g = this.g = new Prng(seed)
    this.gc = g.bool()
    this.clients = pick(g, ID_SETS)
    this.name = `e${seed}-${this.gc ? 'gc' : 'nogc'}-${this.clients.length}c`
    this.session = new Session({ gc: this.gc, clients: this.clients })
    this.steps = []
    this.expected = []
    this.stats = new Map()
    this.relpos = [] // {hex, k} of every relpos answer so far (k: the client that answered)
    this.snaps = [] // {hex, sv} of every snapshot answer so far
    this.subdocs = 0
    this.before = this.clients.map(() => new Set()) // per client: the types before its last op
  }

  count (key, n = 1) { this.stats.set(key, (this.stats.get(key) || 0) + n) }
  undef () { this.count('value.$undefined'); return { $undefined: true } }
  newSubdoc () { this.count('value.$doc'); return { $doc: `sub-${this.seed}-${this.subdocs++}` } }

  where () { return `${this.name} step ${this.steps.length}` }

  // Runs a ready step in yjs and records it.
  run (step) {
    let res
    try {
      res = this.session.runStep(clone(step))
    } catch (e) {
      throw new Error(`generator bug: yjs refused ${this.where()} ${JSON.stringify(step).slice(0, 400)}: ${e.stack}`)
    }
    this.record(step, res)
    return res
  }

  record (step, res) {
    this.steps.push(step)
    this.expected.push(res)
    this.count('steps')
    this.count('updates', res.updates.length)
    this.count('event-calls', res.events.length)
    this.count('events', res.events.reduce((n, c) => n + c.events.length, 0))
  }

  // A transaction of n random ops; each op is chosen on the state the previous ones left, and
  // often on the type the previous op edited.
  txn (k, n, choose = null) {
    const g = this.g
    const doc = this.session.doc(k)
    const ops = []
    let res
    try {
      res = this.session.record(() => {
        doc.transact(() => {
          let last = null
          for (let i = 0; i < n; i++) {
            const types = collect(doc)
            const again = last && chance(g, 0.35) ? types.find(x => x.type === last) : undefined
            if (again) this.count('target.same-again')
            const target = choose ? null : again ?? this.target(k, types)
            const op = choose ? choose(i) : randomOp(g, this, target)
            ops.push(op)
            last = target?.type
            this.before[k] = new Set(types.map(x => x.type))
            applyOp(doc, clone(op))
          }
        })
      })
    } catch (e) {
      throw new Error(`generator bug: yjs refused ${this.where()} op ${ops.length - 1} ${JSON.stringify(ops.at(-1)).slice(0, 400)}: ${e.stack}`)
    }
    this.count('txns')
    this.count('ops', ops.length)
    if (n > 1) this.count('txns.multi-op')
    if (new Set(ops.map(o => o.path[0])).size > 1) this.count('txns.multi-root')
    if (res.updates.length > 1) this.count('updates.from-observer') // YTextEvent.delta deleted formats
    this.record({ c: k, txn: ops }, res)
  }

  // Types created by the client's last op are edited next often; otherwise a nested type or a root.
  target (k, types) {
    const g = this.g
    const fresh = types.filter(x => !this.before[k].has(x.type))
    if (fresh.length > 0 && this.before[k].size > 0 && chance(g, 0.4)) {
      this.count('target.fresh')
      return pick(g, fresh)
    }
    const nested = types.filter(x => x.path.length > 1)
    if (nested.length > 0 && chance(g, 0.45)) {
      this.count('target.nested')
      return pick(g, nested)
    }
    return pick(g, types.filter(x => x.path.length === 1))
  }

  sync (k, j, v2 = this.g.bool()) {
    this.count(v2 ? 'sync.v2' : 'sync.v1')
    const res = this.run({ c: k, sync: j, v2 })
    if (res.updates.length > 1) this.count('updates.from-cleanup') // cleanupYTextAfterTransaction
  }

  randomQuery (k) {
    const g = this.g
    const doc = this.session.doc(k)
    const types = collect(doc)
    const of = (kinds) => types.filter(x => kinds.has(x.kind))
    const r = g.int(99)
    const snapFirst = !this.gc && this.snaps.length === 0 && chance(g, 0.3)
    if (snapFirst || (r >= 88 && r < 93)) return { q: 'snapshot' }
    if (r < 12) return { q: 'json' }
    if (r < 24) return { q: 'delta', path: pick(g, of(TEXT_KINDS)).path }
    if (r < 36) return { q: 'get', path: pick(g, types).path }
    if (r < 44) {
      const { path, type } = pick(g, of(LIST_KINDS))
      const len = type.length
      return len > 0 && chance(g, 0.15)
        ? { q: 'slice', path, start: -1 - g.int(len - 1), end: g.int(len) } // negative start: from the end
        : { q: 'slice', path, start: g.int(len), end: g.int(len + 1) }
    }
    if (r < 52) return { q: 'attrs', path: pick(g, of(ATTR_KINDS)).path }
    if (r < 70) {
      const { path, type } = pick(g, types.filter(x => !MAP_KINDS.has(x.kind)))
      return { q: 'relpos', path, index: g.int(type.length + (chance(g, 0.05) ? 1 : 0)), assoc: pick(g, ASSOCS) }
    }
    if (r < 82 && this.relpos.length > 0) {
      // Mostly one taken on another client: it may name structs this one has not seen yet.
      const others = this.relpos.filter(p => p.k !== k)
      return { q: 'resolve', rel: pick(g, others.length > 0 && chance(g, 0.7) ? others : this.relpos).hex }
    }
    if (r < 88 && !this.gc) {
      const usable = this.usableSnaps(doc)
      if (usable.length > 0) return { q: 'fromSnapshot', snap: pick(g, usable).hex }
    }
    return { q: 'state' }
  }

  // Snapshots whose state this doc has (createDocFromSnapshot needs every struct they name).
  usableSnaps (doc) {
    return this.snaps.filter(s => Array.from(s.sv).every(([client, clock]) => Y.getState(doc.store, client) >= clock))
  }

  query (k, queries) {
    const res = this.run({ c: k, query: queries })
    queries.forEach((q, i) => {
      this.count(`query.${q.q}`)
      const out = res.out[i]
      if (q.q === 'relpos' && !this.relpos.some(p => p.hex === out)) this.relpos.push({ hex: out, k })
      if (q.q === 'snapshot') this.snaps.push({ hex: out.v1, sv: Y.decodeSnapshot(fromHex(out.v1)).sv })
      if (q.q === 'resolve') this.count(out === null ? 'resolve.null' : 'resolve.found')
      if (q.q === 'fromSnapshot') this.checkRestore(k, q.snap, out)
    })
  }

  // The replica of createDocFromSnapshot's encoder (editing_exec.mjs) against yjs itself, on a copy
  // of the doc so the session's docs see no extra transaction.
  checkRestore (k, snapHex, out) {
    const copy = new Y.Doc({ gc: false })
    Y.applyUpdateV2(copy, Y.encodeStateAsUpdateV2(this.session.doc(k)))
    const viaYjs = Y.createDocFromSnapshot(copy, Y.decodeSnapshot(fromHex(snapHex)))
    const mine = restoreSnapshot(fromHex(out.update))
    if (!isDeepStrictEqual(rootsJSON(viaYjs), out.json) ||
        Buffer.compare(Y.encodeStateAsUpdateV2(viaYjs), Y.encodeStateAsUpdateV2(mine)) !== 0) {
      throw new Error(`generator bug: ${this.where()}: the createDocFromSnapshot replica differs from yjs`)
    }
  }

  // Two clients with the same state edit the same place of the same type concurrently: both
  // insert at one position (the higher client id and the lower one both go first sometimes), or
  // both format / delete overlapping ranges of the root text (after which yjs cleans up
  // duplicate formatting when it applies the remote change).
  concurrent () {
    const g = this.g
    const n = this.clients.length
    const a = g.int(n - 1)
    const b = (a + 1 + g.int(n - 2)) % n
    this.sync(a, b)
    this.sync(b, a)
    const root = pick(g, ['t', 't', 'a', 'x'])
    const order = chance(g, 0.5) ? [a, b] : [b, a]
    if (root === 't' && chance(g, 0.6)) {
      if (getRoot(this.session.doc(a), 't').length < 4) {
        this.txn(a, 1, () => ({ op: 'insert', path: ['t'], index: 0, text: 'abcd' + randomText(g), attrs: {} }))
        this.sync(b, a)
      }
      const center = g.int(getRoot(this.session.doc(a), 't').length - 1)
      const attrs = randomAttrs(g, false, false)
      for (const k of order) {
        const text = getRoot(this.session.doc(k), 't')
        this.txn(k, 1 + g.int(1), () => {
          const flat = flatText(text)
          if (flat.length === 0) return { op: 'insert', path: ['t'], index: 0, text: randomText(g) }
          const index = Math.min(flat.length - 1, Math.max(0, center - g.int(3)))
          const len = 1 + g.int(4)
          const r = g.int(99)
          if (r < 70) return { op: 'format', path: ['t'], index, len, attrs: chance(g, 0.6) ? attrs : randomAttrs(g, false, true) }
          if (r < 85) return { op: 'delete', path: ['t'], index, len }
          return { op: 'insert', path: ['t'], index, text: randomText(g), attrs: randomAttrs(g, false, true) }
        })
      }
      this.count('concurrent.format')
    } else {
      const type = getRoot(this.session.doc(a), root)
      const flat = root === 't' ? flatText(type) : null
      let index = g.int(type.length)
      if (flat !== null && insidePair(flat, index)) index--
      for (const k of order) {
        this.txn(k, 1, () => root === 't'
          ? { op: 'insert', path: ['t'], index, text: randomText(g), ...(chance(g, 0.5) ? { attrs: randomAttrs(g, false, false) } : {}) }
          : { op: 'insert', path: [root], index, values: Array.from({ length: 1 + g.int(1) }, () => root === 'a' ? randomPlain(g) : xmlChild(g, this)) })
      }
      this.count(this.clients[order[0]] > this.clients[order[1]] ? 'concurrent.higher-first' : 'concurrent.lower-first')
    }
    this.sync(a, b)
    this.sync(b, a)
  }

  build () {
    const g = this.g
    const n = this.clients.length
    const steps = 6 + g.int(chance(g, 0.15) ? 30 : 14)
    let concurrents = 0
    for (let s = 0; s < steps; s++) {
      const r = g.int(99)
      if (n > 1 && r < 16) {
        const k = g.int(n - 1)
        this.sync(k, (k + 1 + g.int(n - 2)) % n)
      } else if (n > 1 && r < 21 && concurrents < 3) {
        concurrents++
        this.concurrent()
      } else if (r < 36) {
        const k = g.int(n - 1)
        this.query(k, Array.from({ length: 1 + g.int(2) }, () => this.randomQuery(k)))
      } else {
        this.txn(g.int(n - 1), chance(g, 0.3) ? 2 + g.int(3) : 1)
      }
    }
    // Mostly everyone syncs with everyone (every pair both ways), then each client answers the
    // final queries: relative positions from anywhere resolve after the other clients' edits.
    if (n > 1 && chance(g, 0.8)) {
      for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) if (k !== j) this.sync(k, j)
    }
    for (let k = 0; k < n; k++) {
      const doc = this.session.doc(k)
      const queries = [{ q: 'json' }, { q: 'state' }]
      const rels = this.relpos.slice()
      for (let i = Math.min(rels.length, 3); i > 0; i--) queries.push({ q: 'resolve', rel: rels.splice(g.int(rels.length - 1), 1)[0].hex })
      if (!this.gc) {
        const usable = this.usableSnaps(doc)
        if (usable.length > 0) queries.push({ q: 'fromSnapshot', snap: pick(g, usable).hex })
      }
      if (chance(g, 0.3)) queries.push({ q: 'snapshot' })
      if (chance(g, 0.3)) queries.push({ q: 'delta', path: ['t'] })
      this.query(k, queries)
    }
    return {
      case: { name: this.name, gc: this.gc, clients: this.clients, steps: this.steps },
      expected: { name: this.name, error: '', steps: this.expected },
      stats: this.stats
    }
  }
}

// The case a seed makes (its name starts with e<seed>) and what yjs answers.
export const generateCase = (seed) => new Builder(seed).build()

export const seedOfName = (name) => {
  const m = /^e(\d+)(-|$)/.exec(name)
  if (!m) throw new Error(`not an editing case name: ${name}`)
  return Number(m[1])
}

// Coverage a run of at least 1,000 sessions must reach: every kind's every op, every value tag,
// every query, both sync formats, both orders of concurrent inserts at one position, concurrent
// formatting that makes yjs clean up after a remote transaction. (Formats deleted by
// YTextEvent.delta, 'updates.from-observer', are rarer: about 1 script in 1,000.)
export const REQUIRED_COVERAGE = [
  ...['Text', 'XmlText'].flatMap(k => ['insert', 'insert+attrs', 'insertEmbed', 'insertEmbed+attrs', 'delete', 'format',
    'applyDelta', 'setAttribute', 'removeAttribute'].map(o => `${k}.${o}`)),
  ...['Array', 'XmlFragment', 'XmlElement'].flatMap(k => ['insert', 'push', 'unshift', 'delete'].map(o => `${k}.${o}`)),
  'XmlFragment.insertAfter', 'XmlElement.insertAfter', 'XmlElement.setAttribute', 'XmlElement.removeAttribute',
  ...['Map', 'XmlHook'].flatMap(k => ['set', 'delete', 'clear'].map(o => `${k}.${o}`)),
  ...['Map', 'Array', 'Text', 'XmlText', 'XmlElement', 'XmlHook', '$doc', '$undefined'].map(v => `value.${v}`),
  ...['json', 'delta', 'get', 'slice', 'attrs', 'relpos', 'resolve', 'snapshot', 'fromSnapshot', 'state'].map(q => `query.${q}`),
  'resolve.null', 'resolve.found', 'sync.v1', 'sync.v2', 'concurrent.higher-first', 'concurrent.lower-first',
  'concurrent.format', 'updates.from-cleanup',
  'txns.multi-op', 'txns.multi-root', 'target.fresh', 'target.nested', 'text.index-inside-pair',
  'text.format-past-end', 'text.retain-past-end'
]
