// The /edit operations of the document API (docs/API.md) done with yjs, as the oracle of
// api_edit.test.mjs, and a seeded generator of valid random edit lists.
//
// Semantics (the spec the server implements): an edit names a root type and a path of map keys
// (strings) and array indices (numbers) walked from it; with an empty path the op's family says
// the root's kind, else the first path element does (string: Y.Map, number: Y.Array). Values
// are JSON (ContentAny) except objects with "$type": map / array / text, which become new
// shared types (filled before they are inserted). array.move is get, clone if a type, delete,
// insert (yjs 13.6 has no move).
import { Y } from './lib.mjs'

export const FAMILY_OF = { text: Y.Text, map: Y.Map, array: Y.Array }

export class EditError extends Error {
  constructor (index, message) { super(`edit ${index}: ${message}`); this.index = index }
}

export const toY = (v) => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && '$type' in v) {
    switch (v.$type) {
      case 'map': {
        const m = new Y.Map()
        for (const [k, x] of Object.entries(v.value)) m.set(k, toY(x))
        return m
      }
      case 'array': return Y.Array.from(v.value.map(toY))
      case 'text': return new Y.Text(v.value)
    }
    throw new Error(`unknown $type ${v.$type}`)
  }
  return v
}

// The shared type an edit addresses in `doc` (throws on a bad path or kind).
export const target = (doc, e) => {
  const family = String(e.op).split('.')[0]
  if (!(family in FAMILY_OF)) throw new Error(`unknown op ${e.op}`)
  const path = e.path ?? []
  let t
  if (path.length === 0) t = family === 'text' ? doc.getText(e.type) : family === 'map' ? doc.getMap(e.type) : doc.getArray(e.type)
  else t = typeof path[0] === 'string' ? doc.getMap(e.type) : doc.getArray(e.type)
  for (const p of path) {
    if (t instanceof Y.Map && typeof p === 'string') t = t.get(p)
    else if (t instanceof Y.Array && Number.isInteger(p) && p >= 0 && p < t.length) t = t.get(p)
    else throw new Error(`bad path ${JSON.stringify(path)}`)
    if (!(t instanceof Y.AbstractType)) throw new Error(`path ${JSON.stringify(path)} is not a shared type`)
  }
  if (!(t instanceof FAMILY_OF[family]) || (family === 'text' && t instanceof Y.XmlText)) throw new Error(`${e.op} on a ${t.constructor.name}`)
  return t
}

// One edit on `doc`, inside the caller's transaction.
export const applyEdit = (doc, e) => {
  const t = target(doc, e)
  switch (e.op) {
    case 'text.insert': return e.attributes === undefined ? t.insert(e.index, e.text) : t.insert(e.index, e.text, e.attributes)
    case 'text.delete': return t.delete(e.index, e.length)
    case 'text.format': return t.format(e.index, e.length, e.attributes)
    case 'map.set': return t.set(e.key, toY(e.value))
    case 'map.delete': return t.delete(e.key)
    case 'array.insert': return t.insert(e.index, e.values.map(toY))
    case 'array.delete': return t.delete(e.index, e.length)
    case 'array.move': {
      const v = t.get(e.from)
      const c = v instanceof Y.AbstractType ? v.clone() : v
      t.delete(e.from, 1)
      t.insert(e.to, [c])
      return
    }
  }
  throw new Error(`unknown op ${e.op}`)
}

// The edits in one transaction of `doc`; resolves the v1 update yjs emitted (empty if none).
export const applyEdits = (doc, edits) => {
  let update = new Uint8Array(0)
  const onUpdate = (u) => { update = u }
  doc.on('update', onUpdate)
  try {
    doc.transact(() => { edits.forEach((e, i) => { try { applyEdit(doc, e) } catch (err) { throw new EditError(i, err.message) } }) })
  } finally {
    doc.off('update', onUpdate)
  }
  return update
}

// A yjs doc that never runs yjs's formatting cleanup after remote transactions (see
// tests/interop/crdt_check.mjs oracleDoc): what it loads stays as the server holds it.
export const oracleDoc = () => {
  const doc = new Y.Doc()
  doc.on('afterTransaction', (tr) => { tr._needFormattingCleanup = false })
  return doc
}

// ---------------------------------------------------------------------------------------------
// Random valid edit lists

const pick = (g, a) => a[g.int(a.length - 1)]
const chance = (g, p) => g.uint32() < p * 2 ** 32

const PIECES = ['a', 'b', 'c', 'x', ' ', 'Hello', 'é', 'ß', '中', '€', '😀', '🎉', '👩‍💻', 'e\u0301', '\n', '"', '<', '\\']
const randomText = (g, max = 5) => {
  let s = ''
  for (let n = 1 + g.int(max - 1); n > 0; n--) s += pick(g, PIECES)
  return s
}
const NUMBERS = [0, 1, -1, 7, 42, -1000, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, 0.5, -3.25, 0.1, 1 / 3, 1e21, 1.5e-7, 2 ** 70, 123456.789]
const KEYS = ['a', 'b', 'title', 'done', 'ü', '😀', '', '1', '10', 'id']
const randomJson = (g, depth = 0) => {
  switch (g.int(depth > 1 ? 6 : 8)) {
    case 0: return null
    case 1: return g.bool()
    case 2: case 3: return pick(g, NUMBERS)
    case 4: return g.int(1000) - 500
    case 5: case 6: return randomText(g, 3)
    case 7: return Array.from({ length: g.int(3) }, () => randomJson(g, depth + 1))
    default: {
      const o = {}
      for (let n = g.int(3); n > 0; n--) o[pick(g, KEYS)] = randomJson(g, depth + 1)
      return o
    }
  }
}
const TEXT_ATTRS = [{ bold: true }, { italic: true }, { color: '#f00' }, { size: 12 }, { link: { href: 'https://x.y/ü' } }, { bold: true, italic: true }, { header: 1 }]
const formatAttrs = (g) => {
  const a = { ...pick(g, TEXT_ATTRS) }
  if (chance(g, 0.35)) a[pick(g, ['bold', 'italic', 'color'])] = null
  return a
}

// A value for map.set / array.insert: JSON, or a new nested type (maybe with nested types).
export const randomValue = (g, depth = 0) => {
  const r = g.int(99)
  if (r < 65 || depth > 2) return randomJson(g)
  if (r < 78) {
    const value = {}
    for (let n = g.int(3); n > 0; n--) value[pick(g, KEYS)] = randomValue(g, depth + 1)
    return { $type: 'map', value }
  }
  if (r < 90) return { $type: 'array', value: Array.from({ length: g.int(3) }, () => randomValue(g, depth + 1)) }
  return { $type: 'text', value: chance(g, 0.2) ? '' : randomText(g) }
}

// Text as UTF-16 units with embeds as one unit; indices that split a surrogate pair move left.
const flatText = (t) => t.toDelta().map(d => typeof d.insert === 'string' ? d.insert : '\0').join('')
const boundary = (flat, i) => {
  if (i <= 0 || i >= flat.length) return i
  const hi = flat.charCodeAt(i - 1); const lo = flat.charCodeAt(i)
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff ? i - 1 : i
}

// Every shared type reachable from `roots` ([name, kind]) with its {type, path}.
const collect = (doc, roots) => {
  const out = []
  const walk = (t, name, path) => {
    out.push({ t, name, path })
    if (t instanceof Y.Map) for (const [k, v] of t.entries()) { if (v instanceof Y.AbstractType) walk(v, name, [...path, k]) }
    if (t instanceof Y.Array) t.toArray().forEach((v, i) => { if (v instanceof Y.AbstractType) walk(v, name, [...path, i]) })
  }
  for (const [name, kind] of roots) walk(kind === 'text' ? doc.getText(name) : kind === 'map' ? doc.getMap(name) : doc.getArray(name), name, [])
  return out
}

// One valid random edit against the current `doc` (a scratch copy), applied to it too.
export const randomEdit = (g, doc, roots, counts) => {
  const { t, name, path } = pick(g, collect(doc, roots))
  const base = path.length ? { type: name, path } : { type: name }
  let e
  if (t instanceof Y.Text) {
    const flat = flatText(t)
    const r = g.int(99)
    if (r < 50 || flat.length === 0) {
      e = { op: 'text.insert', ...base, index: boundary(flat, g.int(flat.length)), text: randomText(g) }
      if (chance(g, 0.4)) e.attributes = pick(g, TEXT_ATTRS)
    } else {
      const a = boundary(flat, g.int(flat.length - 1))
      const b = boundary(flat, Math.min(flat.length, a + 1 + g.int(chance(g, 0.8) ? 3 : flat.length)))
      if (b <= a) e = { op: 'text.insert', ...base, index: a, text: randomText(g) }
      else if (r < 72) e = { op: 'text.format', ...base, index: a, length: b - a, attributes: formatAttrs(g) }
      else e = { op: 'text.delete', ...base, index: a, length: b - a }
    }
  } else if (t instanceof Y.Map) {
    const keys = Array.from(t.keys())
    if (keys.length > 0 && chance(g, 0.2)) e = { op: 'map.delete', ...base, key: chance(g, 0.9) ? pick(g, keys) : 'no-such-key' }
    else e = { op: 'map.set', ...base, key: pick(g, KEYS), value: randomValue(g) }
  } else {
    const len = t.length
    const r = g.int(99)
    if (len === 0 || r < 50) e = { op: 'array.insert', ...base, index: g.int(len), values: Array.from({ length: 1 + g.int(chance(g, 0.2) ? 5 : 1) }, () => randomValue(g)) }
    else if (r < 75) {
      const i = g.int(len - 1)
      e = { op: 'array.delete', ...base, index: i, length: 1 + g.int(Math.min(len - i - 1, 2)) }
    } else e = { op: 'array.move', ...base, from: g.int(len - 1), to: g.int(len - 1) }
  }
  // Round-trip through JSON, as the server receives it.
  e = JSON.parse(JSON.stringify(e))
  doc.transact(() => applyEdit(doc, e))
  if (counts) counts[e.op] = (counts[e.op] ?? 0) + 1
  return e
}

// A list of 1..max valid edits for the document `state` (v1) holds.
export const randomEditList = (g, state, roots, max, counts) => {
  const scratch = oracleDoc()
  Y.applyUpdate(scratch, state)
  const n = 1 + g.int(max - 1)
  const edits = []
  for (let i = 0; i < n; i++) edits.push(randomEdit(g, scratch, roots, counts))
  scratch.destroy()
  return edits
}
