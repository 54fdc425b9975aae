// Seeded random multi-client yjs editing sessions, modelled on yjs's tests/testHelper.js: a few
// Y.Docs with fixed client ids edit text, arrays, maps and XML, exchange their updates over a
// lossy, reordering network, go offline and come back (state-vector sync), and finally converge.
// The engine gets every local update and some redundant ones (sync messages, re-emits), shuffled.
import { isDeepStrictEqual } from 'node:util'
import * as Y from 'yjs'
import {
  ROOT_KINDS, getRoot, format, reference, describeDoc, hasPending, snapshotBytes, sameBytes, firstDiff
} from './crdt_check.mjs'

const pick = (g, arr) => arr[g.int(arr.length - 1)]
const chance = (g, p) => g.uint32() < p * 2 ** 32

// Share of the redundant updates (re-emitted on receipt, sync messages) given to the engine.
const EXTRA_CHANCE = 0.25

// Text pieces: ASCII, 2- and 3-byte UTF-8, astral emoji (surrogate pairs), a ZWJ sequence,
// a combining mark, a newline.
const PIECES = ['a', 'b', 'c', 'd', 'x', 'y', 'z', ' ', ' ', 'Hello', 'é', 'ß', 'ü', 'Ω', '中', '文', '€',
  '😀', '🎉', '𝄞', '👩‍💻', 'e\u0301', '\n', '"', '<']

const randomText = (g, max = 6) => {
  let s = ''
  for (let n = chance(g, 0.1) ? 10 + g.int(40) : 1 + g.int(max - 1); n > 0; n--) s += pick(g, PIECES)
  return s
}

// Numbers that exercise lib0's varInt/float32/float64 choice and JS number printing.
const NUMBERS = [0, -0, 1, -1, 7, 42, -1000, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53), 0.5, -3.25,
  0.1, 1 / 3, 1e21, 1.5e-7, 123456.789, 2 ** 70, Infinity, NaN]

const KEYS = ['a', 'b', 'c', 'title', 'done', 'ü', '😀', '', '1', '10']

const randomAny = (g, depth = 0) => {
  switch (g.int(depth > 1 ? 7 : 9)) {
    case 0: return null
    case 1: return g.bool()
    case 2: case 3: return pick(g, NUMBERS)
    case 4: return g.int(1000) - 500
    case 5: case 6: return randomText(g, 4)
    case 7: return Array.from({ length: g.int(3) }, () => randomAny(g, depth + 1))
    default: {
      const o = {}
      for (let n = g.int(3); n > 0; n--) o[pick(g, KEYS)] = randomAny(g, depth + 1)
      return o
    }
  }
}

// A ContentAny value; in maps rarely undefined (JSON drops the key; Y.Array refuses undefined).
const randomPrimitive = (g, inMap = false) => inMap && chance(g, 0.03) ? undefined : randomAny(g)

const randomBinary = (g) => Uint8Array.from({ length: g.int(8) }, () => g.int(255))

// Formatting attributes; null removes a format. XML text formats are objects or true, because
// YXmlText.toString renders them as tags with for..in over the value.
const TEXT_ATTRS = [{ bold: true }, { italic: true }, { color: '#f00' }, { size: 12 }, { link: { href: 'https://x.y/ü' } },
  { bold: true, italic: true }, { header: 1 }]
const XML_ATTRS = [{ bold: true }, { em: {} }, { a: { href: 'u', title: 'ü' } }, { bold: true, em: {} }]
const attrs = (g, xml) => pick(g, xml ? XML_ATTRS : TEXT_ATTRS)
const formatAttrs = (g, xml) => {
  const a = { ...attrs(g, xml) }
  if (chance(g, 0.3)) a[xml ? 'bold' : pick(g, ['bold', 'italic', 'color'])] = null
  return a
}
const EMBEDS = [{ image: 'cat.png' }, { formula: 'e=mc^2' }, { mention: { id: 7, name: 'Zoë' } }, { video: '' }]

// Prelim (not yet integrated) nested types, filled before insertion.
const newNested = (g, depth) => {
  switch (g.int(2)) {
    case 0: {
      const m = new Y.Map()
      for (let n = g.int(3); n > 0; n--) m.set(pick(g, KEYS), depth < 1 && chance(g, 0.3) ? newNested(g, depth + 1) : randomPrimitive(g, true))
      return m
    }
    case 1: {
      const a = new Y.Array()
      a.insert(0, Array.from({ length: g.int(3) }, () => depth < 1 && chance(g, 0.2) ? newNested(g, depth + 1) : randomPrimitive(g)))
      return a
    }
    default: {
      const t = new Y.Text(chance(g, 0.5) ? randomText(g) : '')
      if (chance(g, 0.5)) t.insert(0, randomText(g), attrs(g, false))
      return t
    }
  }
}

const arrayValue = (g) => {
  const r = g.int(99)
  if (r < 60) return randomPrimitive(g)
  if (r < 75) return randomBinary(g)
  return newNested(g, 0)
}

const XML_NAMES = ['p', 'h1', 'ul', 'li', 'blockquote', 'Para']
const newXmlNode = (g, depth) => {
  if (chance(g, 0.4)) {
    const t = new Y.XmlText()
    t.insert(0, randomText(g), chance(g, 0.4) ? attrs(g, true) : undefined)
    return t
  }
  const e = new Y.XmlElement(pick(g, XML_NAMES))
  for (let n = g.int(2); n > 0; n--) e.setAttribute(pick(g, ['class', 'id', 'data-x', 'ü']), randomText(g, 3))
  if (depth < 2) e.insert(0, Array.from({ length: g.int(2) }, () => newXmlNode(g, depth + 1)))
  return e
}

// Text as UTF-16 units with one placeholder per embed, to keep indices off surrogate pairs:
// a split pair becomes U+FFFD U+FFFD only in the doc that splits it (ContentString.splice), so
// yjs clients themselves diverge and there is nothing to compare with.
const flatText = (t) => t.toDelta().map(d => typeof d.insert === 'string' ? d.insert : '\0').join('')
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff
const boundary = (flat, i) => i > 0 && i < flat.length && isHigh(flat.charCodeAt(i - 1)) && isLow(flat.charCodeAt(i)) ? i - 1 : i
const range = (g, flat) => {
  const a = boundary(flat, g.int(flat.length - 1))
  const len = chance(g, 0.8) ? 1 + g.int(3) : 1 + g.int(flat.length)
  return [a, boundary(flat, Math.min(flat.length, a + len))]
}

const textOp = (g, t, xml) => {
  const flat = flatText(t)
  const r = g.int(99)
  if (r < 45 || flat.length === 0) {
    t.insert(boundary(flat, g.int(flat.length)), randomText(g), chance(g, 0.35) ? attrs(g, xml) : undefined)
  } else if (r < 55 && !xml) {
    // Embeds are objects or, as y-prosemirror and others do, nested shared types.
    const embed = chance(g, 0.3) ? newNested(g, 1) : pick(g, EMBEDS)
    t.insertEmbed(boundary(flat, g.int(flat.length)), embed, chance(g, 0.3) ? attrs(g, false) : undefined)
  } else if (r < 70) {
    const [a, b] = range(g, flat)
    t.format(a, b - a, formatAttrs(g, xml))
  } else {
    const [a, b] = range(g, flat)
    t.delete(a, b - a)
  }
}

const listOp = (g, type, newItem) => {
  const len = type.length
  if (len === 0 || chance(g, 0.6)) {
    type.insert(g.int(len), Array.from({ length: 1 + g.int(chance(g, 0.2) ? 6 : 2) }, () => newItem()))
  } else {
    const i = g.int(len - 1)
    type.delete(i, 1 + g.int(Math.min(len - i - 1, chance(g, 0.8) ? 2 : len)))
  }
}

const mapOp = (g, m) => {
  if (m.size > 0 && chance(g, 0.2)) m.delete(pick(g, Array.from(m.keys())))
  else m.set(pick(g, KEYS), chance(g, 0.25) ? newNested(g, 0) : chance(g, 0.15) ? randomBinary(g) : randomPrimitive(g, true))
}

const randomOp = (g, type) => {
  if (type instanceof Y.XmlText) return textOp(g, type, true)
  if (type instanceof Y.Text) return textOp(g, type, false)
  if (type instanceof Y.XmlElement && chance(g, 0.3)) {
    const key = pick(g, ['class', 'id', 'data-x', 'ü'])
    return chance(g, 0.25) ? type.removeAttribute(key) : type.setAttribute(key, randomText(g, 3))
  }
  if (type instanceof Y.XmlFragment) return listOp(g, type, () => newXmlNode(g, 0))
  if (type instanceof Y.Array) return listOp(g, type, () => arrayValue(g))
  if (type instanceof Y.Map) return mapOp(g, type)
  throw new Error('unexpected type')
}

// Every shared type reachable from the roots, nested ones included.
const collectTypes = (type, out) => {
  out.push(type)
  if (type instanceof Y.XmlText) return out
  const children = type instanceof Y.Text ? type.toDelta().map(d => d.insert)
    : type instanceof Y.Map ? Array.from(type.values()) : type.toArray()
  for (const c of children) if (c instanceof Y.AbstractType) collectTypes(c, out)
  return out
}

// A session of 2-4 clients; returns the updates shuffled, the peers' earlier states and what a
// yjs doc that applied the shuffled updates holds.
export const generateSession = (g, { gc, v2 }) => {
  const fmt = format(v2)
  const names = Object.keys(ROOT_KINDS).filter(() => chance(g, 0.6))
  if (names.length === 0) names.push(pick(g, Object.keys(ROOT_KINDS)))
  const ids = chance(g, 0.8) ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 300] : [0, 1, 127, 128, 2 ** 21, 2 ** 31, 2 ** 32 - 1, 0x7fffffff]
  // Every local transaction's update goes to the engine: together they hold the whole document.
  // Of the redundant ones (a receiver re-emitting what it applied, sync messages) only some do,
  // so that a lost or misapplied update shows instead of being covered by a duplicate.
  const updates = []
  const maybeKeep = (u) => { if (chance(g, EXTRA_CHANCE)) updates.push(u) }
  const NET = Symbol('net')
  const clients = []
  for (let n = 2 + g.int(2); n > 0; n--) {
    const doc = new Y.Doc({ gc })
    let id
    do { id = pick(g, ids) } while (clients.some(c => c.doc.clientID === id))
    doc.clientID = id
    names.forEach(name => getRoot(doc, name))
    const c = { doc, online: true, inbox: [] }
    doc.on(fmt.event, (u, origin) => {
      if (origin === NET) return maybeKeep(u)
      updates.push(u)
      if (c.online) for (const o of clients) if (o !== c && o.online) o.inbox.push(u)
    })
    clients.push(c)
  }

  // Sync step 2 both ways with every online client; the messages are updates too.
  const send = (from, to) => {
    const u = fmt.encodeState(from.doc, Y.encodeStateVector(to.doc))
    maybeKeep(u)
    to.inbox.push(u)
  }
  const connect = (c) => {
    if (c.online) return
    c.online = true
    for (const o of clients) if (o !== c && o.online) { send(o, c); send(c, o) }
  }
  const disconnect = (c) => { c.online = false; c.inbox = [] }
  const flushOne = () => {
    const ready = clients.filter(c => c.online && c.inbox.length > 0)
    if (ready.length === 0) return false
    const c = pick(g, ready)
    // Mostly in order, sometimes reordered (pending structs on the receiver).
    const [u] = c.inbox.splice(chance(g, 0.8) ? 0 : g.int(c.inbox.length - 1), 1)
    fmt.apply(c.doc, u, NET)
    return true
  }
  const flushAll = () => { while (flushOne()) continue }

  const empty = new Y.Doc({ gc })
  const peers = [{ sv: Y.encodeStateVector(empty), state: fmt.encodeState(empty) }]
  const steps = 4 + g.int(chance(g, 0.2) ? 80 : 25)
  const snapshotAt = new Set(Array.from({ length: 1 + g.int(2) }, () => g.int(steps - 1)))
  for (let step = 0; step < steps; step++) {
    const r = g.int(99)
    if (r < 3) disconnect(pick(g, clients))
    else if (r < 6) connect(pick(g, clients))
    else if (r < 9) flushAll()
    else if (r < 60) flushOne()
    const c = pick(g, clients)
    const ops = chance(g, 0.2) ? 2 + g.int(3) : 1
    c.doc.transact(() => {
      for (let i = 0; i < ops; i++) {
        const types = []
        for (const name of names) collectTypes(getRoot(c.doc, name), types)
        randomOp(g, pick(g, types))
      }
    })
    if (snapshotAt.has(step)) {
      const p = pick(g, clients)
      peers.splice(g.int(peers.length), 0, { sv: Y.encodeStateVector(p.doc), state: fmt.encodeState(p.doc) })
    }
  }

  // Everyone online, then state-vector syncs until all agree.
  clients.forEach(connect)
  flushAll()
  for (let round = 0; !converged(clients); round++) {
    if (round === 3) throw new Error('session did not converge')
    for (const a of clients) for (const b of clients) if (a !== b) send(a, b)
    flushAll()
  }
  const rich = describeDoc(clients[0].doc, names)
  for (const c of clients.slice(1)) {
    const d = describeDoc(c.doc, names)
    if (!isDeepStrictEqual(d, rich)) throw new Error(`yjs clients diverged: ${firstDiff(rich, d)}`)
  }

  // A few byte-identical repeats too: applying an update twice must change nothing.
  for (let n = updates.length > 0 ? g.int(2) : 0; n > 0; n--) updates.push(pick(g, updates))
  for (let i = updates.length - 1; i > 0; i--) {
    const j = g.int(i)
    ;[updates[i], updates[j]] = [updates[j], updates[i]]
  }
  const { ref, expected } = reference(gc, fmt, updates, names, { peers })
  if (hasPending(ref) || !isDeepStrictEqual(expected.rich, rich) || !sameBytes(expected.snapshot, snapshotBytes(clients[0].doc))) {
    throw new Error(`yjs applying the shuffled updates differs from the clients: ${firstDiff(rich, expected.rich) || 'pending or delete set'}`)
  }
  return {
    updates,
    peers,
    peerStateVectors: peers.map(p => p.sv),
    rootTypes: Object.fromEntries(names.map(n => [n, ROOT_KINDS[n]])),
    yjsStalled: expected.ifStalled !== undefined,
    expected
  }
}

const converged = (clients) => {
  const sv = Y.encodeStateVector(clients[0].doc)
  return clients.every(c => !hasPending(c.doc) && sameBytes(Y.encodeStateVector(c.doc), sv))
}
