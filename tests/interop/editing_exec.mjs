// The executor of the editing interop protocol (editing_protocol.md) on real yjs: runs one case's
// steps on Y.Docs and produces its result in protocol form. The generator (editing_sessions.mjs)
// uses it to record what yjs does, the stand-in tool (editing_mock_tool.mjs) to answer like a
// perfect engine would. Everything here follows the protocol word by word; where yjs has a quirk
// the protocol depends on, a comment says so.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

// Root names, in the order every client creates them (and observes them).
export const ROOTS = ['t', 'a', 'm', 'x']

export const getRoot = (doc, name) => {
  switch (name) {
    case 't': return doc.getText('t')
    case 'a': return doc.getArray('a')
    case 'm': return doc.getMap('m')
    case 'x': return doc.getXmlFragment('x')
  }
  throw new Error(`unknown root ${JSON.stringify(name)}`)
}

// The protocol's name of a shared type's kind; subclasses first.
export const kindOf = (v) => {
  if (v instanceof Y.XmlText) return 'XmlText'
  if (v instanceof Y.Text) return 'Text'
  if (v instanceof Y.XmlHook) return 'XmlHook'
  if (v instanceof Y.Map) return 'Map'
  if (v instanceof Y.Array) return 'Array'
  if (v instanceof Y.XmlElement) return 'XmlElement'
  if (v instanceof Y.XmlFragment) return 'XmlFragment'
  return null
}

export const TEXT_KINDS = new Set(['Text', 'XmlText'])
export const LIST_KINDS = new Set(['Array', 'XmlFragment', 'XmlElement'])
export const MAP_KINDS = new Set(['Map', 'XmlHook'])
// Kinds with getAttributes(): text attributes (Text, XmlText) and XML attributes.
export const ATTR_KINDS = new Set(['Text', 'XmlText', 'XmlElement'])

export const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex')
export const fromHex = (s) => new Uint8Array(Buffer.from(s, 'hex'))

// The one serialization of values in events and query results.
export const ser = (v) => {
  if (v === undefined) return { $undefined: true }
  if (v === null || typeof v !== 'object') return v
  if (v instanceof Y.AbstractType) return { $type: kindOf(v), json: ser(v.toJSON()) }
  if (v instanceof Uint8Array) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
  if (v instanceof Y.Doc) return { $doc: v.guid }
  if (Array.isArray(v)) return v.map(ser)
  const o = {}
  for (const k of Object.keys(v)) o[k] = ser(v[k])
  return o
}

// A value V of the protocol to what is handed to yjs. Tags are recognized only at the top of a
// value (plain JSON arrays and objects are taken literally). Prelim types are filled before they
// are integrated, so yjs integrates their content right after the type itself.
export const decodeValue = (v) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
  if ('$bin' in v) return new Uint8Array(Buffer.from(v.$bin, 'base64')) // a plain Uint8Array, not a Buffer
  if ('$undefined' in v) return undefined
  if ('$doc' in v) return new Y.Doc({ guid: v.$doc })
  if ('$type' in v) {
    switch (v.$type) {
      case 'Map': return new Y.Map(v.entries.map(([k, x]) => [k, decodeValue(x)]))
      case 'Array': return Y.Array.from(v.items.map(decodeValue))
      case 'Text': return new Y.Text(v.text)
      case 'XmlText': return new Y.XmlText(v.text)
      case 'XmlElement': {
        const e = new Y.XmlElement(v.name)
        for (const [k, x] of Object.entries(v.attrs)) e.setAttribute(k, decodeValue(x))
        e.insert(0, v.children.map(decodeValue))
        return e
      }
      case 'XmlHook': {
        const h = new Y.XmlHook(v.name)
        for (const [k, x] of v.entries) h.set(k, decodeValue(x))
        return h
      }
    }
    throw new Error(`unknown $type ${JSON.stringify(v.$type)}`)
  }
  return v
}

// The Y type a path names: a root, then Y.Map get(key) for strings and get(index) of a
// Y.Array / XmlFragment / XmlElement for numbers. (Y.Array get moves yjs's search markers.)
export const resolvePath = (doc, path) => {
  if (!Array.isArray(path) || path.length === 0) throw new Error(`bad path ${JSON.stringify(path)}`)
  let t = getRoot(doc, path[0])
  for (let i = 1; i < path.length; i++) {
    const p = path[i]
    const kind = kindOf(t)
    if (typeof p === 'string' ? !MAP_KINDS.has(kind) : !(Number.isInteger(p) && LIST_KINDS.has(kind))) {
      throw new Error(`path ${JSON.stringify(path)}: element ${i} does not apply to a ${kind}`)
    }
    const next = t.get(p)
    if (!(next instanceof Y.AbstractType)) throw new Error(`path ${JSON.stringify(path)}: element ${i} is not a shared type`)
    t = next
  }
  return t
}

const need = (cond, op, kind) => {
  if (!cond) throw new Error(`op ${op.op} does not apply to a ${kind} (path ${JSON.stringify(op.path)})`)
}

// One op of a transaction. Argument presence matters: yjs behaves differently when the
// attributes of insert / insertEmbed are omitted (search markers, inherited formatting).
export const applyOp = (doc, op) => {
  const t = resolvePath(doc, op.path)
  const kind = kindOf(t)
  if (TEXT_KINDS.has(kind)) {
    switch (op.op) {
      case 'insert':
        if ('attrs' in op) t.insert(op.index, op.text, op.attrs)
        else t.insert(op.index, op.text)
        return
      case 'insertEmbed':
        if ('attrs' in op) t.insertEmbed(op.index, decodeValue(op.embed), op.attrs)
        else t.insertEmbed(op.index, decodeValue(op.embed))
        return
      case 'delete': return t.delete(op.index, op.len)
      case 'format': return t.format(op.index, op.len, op.attrs)
      case 'applyDelta':
        return t.applyDelta(op.delta.map(d => 'insert' in d && typeof d.insert !== 'string' ? { ...d, insert: decodeValue(d.insert) } : d))
      case 'setAttribute': return t.setAttribute(op.key, decodeValue(op.value))
      case 'removeAttribute': return t.removeAttribute(op.key)
    }
    return need(false, op, kind)
  }
  if (LIST_KINDS.has(kind)) {
    switch (op.op) {
      case 'insert': return t.insert(op.index, op.values.map(decodeValue))
      case 'push': return t.push(op.values.map(decodeValue))
      case 'unshift': return t.unshift(op.values.map(decodeValue))
      case 'delete': return t.delete(op.index, op.len)
      case 'insertAfter': {
        need(kind !== 'Array', op, kind)
        const ref = op.ref === null ? null : t.get(op.ref)
        if (ref !== null && !(ref instanceof Y.AbstractType)) throw new Error(`insertAfter: no child at ${op.ref}`)
        return t.insertAfter(ref, op.values.map(decodeValue))
      }
      case 'setAttribute': need(kind === 'XmlElement', op, kind); return t.setAttribute(op.key, decodeValue(op.value))
      case 'removeAttribute': need(kind === 'XmlElement', op, kind); return t.removeAttribute(op.key)
    }
    return need(false, op, kind)
  }
  if (MAP_KINDS.has(kind)) {
    switch (op.op) {
      case 'set': t.set(op.key, decodeValue(op.value)); return
      case 'delete': return t.delete(op.key)
      case 'clear': return t.clear()
    }
  }
  return need(false, op, kind)
}

// {t,a,m,x}: toJSON of every root.
export const rootsJSON = (doc) => {
  const o = {}
  for (const r of ROOTS) o[r] = ser(getRoot(doc, r).toJSON())
  return o
}

// What Y.createDocFromSnapshot(originDoc, snapshot) encodes and applies to its new doc,
// replicated with yjs's exported internals (Snapshot.js, writeDeleteSet in DeleteSet.js). It runs
// one transaction on originDoc that splits structs at the snapshot's clocks (merged back at its
// cleanup; it emits no update and no event).
export const snapshotUpdate = (originDoc, snap) => {
  if (originDoc.gc) throw new Error('Garbage-collection must be disabled in `originDoc`!')
  const { sv, ds } = snap
  const encoder = new Y.UpdateEncoderV2()
  originDoc.transact(transaction => {
    let size = 0
    sv.forEach(clock => { if (clock > 0) size++ })
    encoding.writeVarUint(encoder.restEncoder, size)
    for (const [client, clock] of sv) {
      if (clock === 0) continue
      if (clock < Y.getState(originDoc.store, client)) Y.getItemCleanStart(transaction, Y.createID(client, clock))
      const structs = originDoc.store.clients.get(client) || []
      const lastStructIndex = Y.findIndexSS(structs, clock - 1)
      encoding.writeVarUint(encoder.restEncoder, lastStructIndex + 1)
      encoder.writeClient(client)
      encoding.writeVarUint(encoder.restEncoder, 0)
      for (let i = 0; i <= lastStructIndex; i++) structs[i].write(encoder, 0)
    }
    encoding.writeVarUint(encoder.restEncoder, ds.clients.size)
    Array.from(ds.clients.entries()).sort((a, b) => b[0] - a[0]).forEach(([client, items]) => {
      encoder.resetDsCurVal()
      encoding.writeVarUint(encoder.restEncoder, client)
      encoding.writeVarUint(encoder.restEncoder, items.length)
      for (const item of items) {
        encoder.writeDsClock(item.clock)
        encoder.writeDsLen(item.len)
      }
    })
  })
  return encoder.toUint8Array()
}

// A restored doc as createDocFromSnapshot builds it (new Y.Doc(), gc on, origin 'snapshot'; the
// guid is in no output).
export const restoreSnapshot = (update) => {
  const doc = new Y.Doc({ guid: 'restored' })
  Y.applyUpdateV2(doc, update, 'snapshot')
  return doc
}

export const runQuery = (doc, q) => {
  switch (q.q) {
    case 'json': return rootsJSON(doc)
    case 'delta': {
      const t = resolvePath(doc, q.path)
      if (!TEXT_KINDS.has(kindOf(t))) throw new Error(`delta of a ${kindOf(t)}`)
      return ser(t.toDelta())
    }
    case 'get': {
      const t = resolvePath(doc, q.path)
      return { json: ser(t.toJSON()), length: MAP_KINDS.has(kindOf(t)) ? t.size : t.length }
    }
    case 'slice': {
      const t = resolvePath(doc, q.path)
      if (!LIST_KINDS.has(kindOf(t))) throw new Error(`slice of a ${kindOf(t)}`)
      return ser(t.slice(q.start, q.end))
    }
    case 'attrs': {
      const t = resolvePath(doc, q.path)
      if (!ATTR_KINDS.has(kindOf(t))) throw new Error(`attrs of a ${kindOf(t)}`)
      return ser(t.getAttributes())
    }
    case 'relpos': {
      const t = resolvePath(doc, q.path)
      return hex(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(t, q.index, q.assoc)))
    }
    case 'resolve': {
      const abs = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromHex(q.rel)), doc)
      return abs === null ? null : { type: ser(abs.type), index: abs.index, assoc: abs.assoc }
    }
    case 'snapshot': {
      const s = Y.snapshot(doc)
      return { v1: hex(Y.encodeSnapshot(s)), v2: hex(Y.encodeSnapshotV2(s)) }
    }
    case 'fromSnapshot': {
      const update = snapshotUpdate(doc, Y.decodeSnapshot(fromHex(q.snap)))
      return { update: hex(update), json: rootsJSON(restoreSnapshot(update)) }
    }
    case 'state':
      return { v1: hex(Y.encodeStateAsUpdate(doc)), v2: hex(Y.encodeStateAsUpdateV2(doc)), sv: hex(Y.encodeStateVector(doc)) }
  }
  throw new Error(`unknown query ${JSON.stringify(q.q)}`)
}

// One event of a deep-observer call: path, then delta (computing a YTextEvent's delta may delete
// redundant formatting items in a new transaction), then keys. Serialized at once, inside the
// observer: nested types are shown as they are then.
const eventOut = (e) => {
  const path = e.path.slice()
  const delta = ser(e.delta)
  const keys = {}
  e.keys.forEach((change, key) => { keys[key] = { action: change.action, oldValue: ser(change.oldValue) } })
  return { path, delta, keys }
}

// The clients of one case with everything they emit recorded per step.
export class Session {
  constructor ({ gc, clients }) {
    this.rec = null
    this.docs = clients.map((id, k) => {
      // A fixed guid only saves lib0 a random uuid per doc (a root doc's guid is in no output).
      const doc = new Y.Doc({ gc, guid: `client-${k}` })
      doc.clientID = id
      for (const r of ROOTS) getRoot(doc, r)
      for (const r of ROOTS) getRoot(doc, r).observeDeep((events) => this.#record().events.push({ root: r, events: events.map(eventOut) }))
      doc.on('update', (u) => this.#record().updates.push({ v1: hex(u), v2: null }))
      doc.on('updateV2', (u) => {
        const last = this.#record().updates.at(-1)
        if (!last || last.v2 !== null) throw new Error('updateV2 without a preceding update')
        last.v2 = hex(u)
      })
      return doc
    })
  }

  #record () {
    if (this.rec === null) throw new Error('a doc emitted outside of a step')
    return this.rec
  }

  // Runs fn with the emissions recorded; returns the step's result.
  record (fn) {
    this.rec = { updates: [], events: [], out: [] }
    try {
      const out = fn()
      if (out) this.rec.out = out
      if (this.rec.updates.some(u => u.v2 === null)) throw new Error('update without updateV2')
      return this.rec
    } finally {
      this.rec = null
    }
  }

  doc (k) {
    const d = this.docs[k]
    if (!d) throw new Error(`no client ${k}`)
    return d
  }

  runStep (step) {
    const doc = this.doc(step.c)
    if ('txn' in step) return this.record(() => { doc.transact(() => { for (const op of step.txn) applyOp(doc, op) }) })
    if ('sync' in step) {
      if (step.sync === step.c) throw new Error('sync with itself')
      const from = this.doc(step.sync)
      return this.record(() => {
        const sv = Y.encodeStateVector(doc)
        const msg = step.v2 ? Y.encodeStateAsUpdateV2(from, sv) : Y.encodeStateAsUpdate(from, sv)
        if (step.v2) Y.applyUpdateV2(doc, msg)
        else Y.applyUpdate(doc, msg)
        return [hex(msg)]
      })
    }
    if ('query' in step) return this.record(() => step.query.map(q => runQuery(doc, q)))
    throw new Error(`unknown step ${JSON.stringify(step).slice(0, 100)}`)
  }
}

// A whole case as the tool runs it: the first step that throws ends the case with its message.
export const runCase = (c) => {
  const steps = []
  let error = ''
  try {
    const session = new Session(c)
    for (const step of c.steps) steps.push(session.runStep(step))
  } catch (e) {
    error = `step ${steps.length}: ${e?.message ?? e}`
  }
  return { name: c.name, error, steps }
}
