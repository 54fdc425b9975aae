// The yjs side of the CRDT differential tests: reference docs, views of a document to compare,
// and the checks of one result of crdt_interop_tool against what yjs expects.
import { isDeepStrictEqual } from 'node:util'
import * as Y from 'yjs'

// Root names fix the root's type: updates do not say which type a root is, so both sides go by name.
export const ROOT_KINDS = { text: 'Text', array: 'Array', map: 'Map', xml: 'XmlFragment' }

export const getRoot = (doc, name) => {
  switch (ROOT_KINDS[name]) {
    case 'Text': return doc.getText(name)
    case 'Array': return doc.getArray(name)
    case 'Map': return doc.getMap(name)
    case 'XmlFragment': return doc.getXmlFragment(name)
  }
  throw new Error(`unknown root ${name}`)
}

// A yjs doc that only merges: after a remote change to formatted text, yjs runs a local cleanup
// transaction that may delete formatting items, and what it deletes depends on the order updates
// arrive in (about 1 session in 2,000 ends with other content). Reference docs skip it, so the
// expected document is the order-independent merge the clients converged to; the engine, a server
// that authors no changes, must not clean up either.
export const oracleDoc = (gc) => {
  const doc = new Y.Doc({ gc })
  doc.on('afterTransaction', (tr) => {
    if (!('_needFormattingCleanup' in tr)) throw new Error('yjs changed: Transaction._needFormattingCleanup is gone')
    tr._needFormattingCleanup = false
  })
  return doc
}

// Applies updates in order, then settles pending structs. yjs retries its pending structs only
// when a client's clock passes the clock it noted as missing, and that note can be wrong (it
// follows the first unresolved dependency), so an order of updates occasionally leaves applicable
// structs pending for good (about 1 session in 2,000). Re-applying them settles the doc;
// an engine should not stall like that. Returns whether yjs had stalled.
export const applyAll = (doc, fmt, updates) => {
  for (const u of updates) fmt.apply(doc, u)
  let stalled = false
  for (let i = 0; i < 10 && doc.store.pendingStructs !== null; i++) {
    const before = doc.store.pendingStructs.update
    Y.applyUpdateV2(doc, before)
    if (doc.store.pendingStructs !== null && sameBytes(doc.store.pendingStructs.update, before)) break
    stalled = true
  }
  return stalled
}

// The yjs functions of one update format.
export const format = (v2) => v2
  ? { apply: Y.applyUpdateV2, encodeState: Y.encodeStateAsUpdateV2, event: 'updateV2' }
  : { apply: Y.applyUpdate, encodeState: Y.encodeStateAsUpdate, event: 'update' }

// {root: toJSON} for every root with content, as the tool's `json` is specified. Empty roots are
// left out on both sides: whether a root exists at all depends on what the updates mention.
export const rootsJSON = (doc, names = Object.keys(ROOT_KINDS)) => {
  const out = {}
  for (const name of names) {
    const root = getRoot(doc, name)
    out[name] = ROOT_KINDS[name] === 'XmlFragment' ? root.toString() : root.toJSON()
  }
  // JSON.stringify's view (Uint8Array as {"0":..}, undefined dropped or null, NaN as null), so a
  // map holding only undefined is empty.
  return dropEmptyRoots(JSON.parse(JSON.stringify(out)))
}

const isEmpty = (v) => v === '' || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0)

export const dropEmptyRoots = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => !isEmpty(v)))

// Richer than toJSON: text formatting and embeds, binary, -0/NaN/undefined, nesting kinds.
export const describeValue = (v) => {
  if (v instanceof Y.XmlText) return { xmlText: v.toString() }
  if (v instanceof Y.Text) return { text: v.toDelta().map(d => ({ ...d, insert: describeValue(d.insert) })) }
  if (v instanceof Y.XmlElement || v instanceof Y.XmlFragment) return { xml: v.toString() }
  if (v instanceof Y.Array) return { array: v.toArray().map(describeValue) }
  if (v instanceof Y.Map) return { map: Array.from(v.entries()).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([k, x]) => [k, describeValue(x)]) }
  if (v instanceof Uint8Array) return { binary: Buffer.from(v).toString('hex') }
  return v
}

export const describeDoc = (doc, names = Object.keys(ROOT_KINDS)) =>
  Object.fromEntries(names.map(name => [name, describeValue(getRoot(doc, name))]))

// Deleted ranges and state vector, independent of how items are split.
export const snapshotBytes = (doc) => Y.encodeSnapshot(Y.snapshot(doc))

// How much of an update's deleted content is still there (keptDeleted) and how much is
// collected (GC structs, ContentDeleted), in item units. yjs with gc keeps no deleted content
// (except for features these tests do not use: keep flags, subdocuments); without gc it collects none.
export const gcShape = (update, v2) => {
  const { structs, ds } = (v2 ? Y.decodeUpdateV2 : Y.decodeUpdate)(update)
  let keptDeleted = 0
  let collected = 0
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    if (s instanceof Y.GC || s.content instanceof Y.ContentDeleted) {
      collected += s.length
      continue
    }
    for (const d of ds.clients.get(s.id.client) || []) {
      keptDeleted += Math.max(0, Math.min(d.clock + d.len, s.id.clock + s.length) - Math.max(d.clock, s.id.clock))
    }
  }
  return { keptDeleted, collected }
}

export const hasPending = (doc) => doc.store.pendingStructs !== null || doc.store.pendingDs !== null

export const svMap = (sv) => Object.fromEntries(Array.from(Y.decodeStateVector(sv)).sort(([a], [b]) => a - b))

export const sameBytes = (a, b) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

// First difference between two JSON-like values, short enough for a test log.
export const firstDiff = (expected, actual, at = '$') => {
  const show = (v) => {
    const s = v === undefined ? 'undefined' : v instanceof Uint8Array ? `<${Buffer.from(v).toString('hex')}>` : JSON.stringify(v)
    return s.length > 120 ? s.slice(0, 117) + '...' : s
  }
  if (Object.is(expected, actual)) return null
  if (typeof expected === 'object' && expected !== null && typeof actual === 'object' && actual !== null &&
      Array.isArray(expected) === Array.isArray(actual) && !(expected instanceof Uint8Array)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)])
    for (const k of keys) {
      const d = firstDiff(expected[k], actual[k], `${at}.${k}`)
      if (d) return d
    }
    return null
  }
  if (typeof expected === 'string' && typeof actual === 'string') {
    let i = 0
    while (i < expected.length && expected[i] === actual[i]) i++
    const around = (t) => show(t.slice(Math.max(0, i - 10), i + 30))
    return `${at}: differs at UTF-16 index ${i} of ${expected.length}/${actual.length}: expected ${around(expected)}, got ${around(actual)}`
  }
  return `${at}: expected ${show(expected)}, got ${show(actual)}`
}

// What the engine reports about a doc: its JSON, state vector, state and diffs for the peers.
const engineView = (doc, fmt, peers) => ({
  json: rootsJSON(doc),
  stateVector: Y.encodeStateVector(doc),
  state: fmt.encodeState(doc),
  diffs: peers.map(p => fmt.encodeState(doc, p.sv))
})

// What the engine must produce for `updates` applied in order, from a settled yjs doc. If yjs
// had stalled (see applyAll), `ifStalled` is what yjs reports before settling; an engine that
// follows yjs's retry rule exactly reproduces that, which passes too and is counted apart.
// `peers` ({sv, state}) get one more, taken before update `peerAt`, if that is set.
export const reference = (gc, fmt, updates, names, { peers = [], peerAt = -1 } = {}) => {
  const ref = oracleDoc(gc)
  updates.forEach((u, i) => {
    if (i === peerAt) peers.push({ sv: Y.encodeStateVector(ref), state: fmt.encodeState(ref) })
    fmt.apply(ref, u)
  })
  const before = ref.store.pendingStructs === null ? null : engineView(ref, fmt, peers)
  const stalled = applyAll(ref, fmt, [])
  const expected = { names, rich: describeDoc(ref, names), snapshot: snapshotBytes(ref), ...engineView(ref, fmt, peers) }
  if (stalled) expected.ifStalled = before
  return { ref, peers, expected }
}

// Loads `updates` into a fresh yjs doc; the first way it differs from `expected`, or null.
const checkDoc = (what, gc, fmt, updates, expected) => {
  const doc = oracleDoc(gc)
  try {
    applyAll(doc, fmt, updates)
  } catch (e) {
    return `${what}: yjs cannot apply it: ${e.message}`
  }
  if (hasPending(doc)) return `${what}: yjs is left with pending structs or deletes (missing structs)`
  const rich = describeDoc(doc, expected.names)
  if (!isDeepStrictEqual(rich, expected.rich)) return `${what}: content ${firstDiff(expected.rich, rich)}`
  const json = rootsJSON(doc)
  if (!isDeepStrictEqual(json, expected.json)) return `${what}: toJSON ${firstDiff(expected.json, json)}`
  if (!sameBytes(Y.encodeStateVector(doc), expected.stateVector)) {
    return `${what}: state vector ${firstDiff(svMap(expected.stateVector), svMap(Y.encodeStateVector(doc)))}`
  }
  if (!sameBytes(snapshotBytes(doc), expected.snapshot)) return `${what}: delete set differs`
  return null
}

// Checks one result of the tool. `view` is what the engine should report (expected, or
// expected.ifStalled); a yjs doc loading its state or a peer's state plus its diff must hold the
// settled document in either case.
const checkView = (result, { gc, v2 }, view, expected, peers) => {
  const fmt = format(v2)
  if (result.error !== '') return `rejected: ${result.error}`
  if (!isDeepStrictEqual(svMap(result.sv), svMap(view.stateVector))) {
    return `sv ${firstDiff(svMap(view.stateVector), svMap(result.sv))}`
  }
  let json
  try {
    json = JSON.parse(result.json)
  } catch (e) {
    return `json is not JSON (${e.message}): ${result.json.slice(0, 100)}`
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return `json is not an object: ${result.json.slice(0, 100)}`
  json = dropEmptyRoots(json)
  if (!isDeepStrictEqual(json, view.json)) return `json ${firstDiff(view.json, json)}`
  const bad = checkDoc('state', gc, fmt, [result.state], expected)
  if (bad) return bad
  let shape
  try {
    shape = gcShape(result.state, v2)
  } catch (e) {
    return `state: yjs cannot decode it: ${e.message}`
  }
  const { keptDeleted, collected } = shape
  // A stalled view carries its pending structs verbatim, as yjs's own does: structs never
  // integrated are never collected, so only the settled view must show gc's shape.
  const settled = view === expected
  if (gc && keptDeleted > 0 && settled) return `state keeps the content of ${keptDeleted} deleted units although gc is on`
  if (!gc && collected > 0 && settled) return `state has ${collected} garbage-collected units although gc is off`
  if (result.diffs.length !== peers.length) return `${result.diffs.length} diffs for ${peers.length} peers`
  for (let i = 0; i < peers.length; i++) {
    const bad = checkDoc(`peer ${i} (sv ${JSON.stringify(svMap(peers[i].sv))}) + diff`, gc, fmt, [peers[i].state, result.diffs[i]], expected)
    if (bad) return bad
  }
  return null
}

// Checks one result of the tool against `expected` (from reference()). Returns the problem or
// null, the view it matched (for byte identity) and whether that was yjs's stalled one.
export const checkResult = (result, cfg, expected, peers) => {
  let problem
  try {
    problem = checkView(result, cfg, expected, expected, peers)
    if (problem && expected.ifStalled && !checkView(result, cfg, expected.ifStalled, expected, peers)) {
      return { problem: null, view: expected.ifStalled, stalledLikeYjs: true }
    }
  } catch (e) {
    problem = `checking threw: ${e.stack}`
  }
  return { problem, view: expected, stalledLikeYjs: false }
}
