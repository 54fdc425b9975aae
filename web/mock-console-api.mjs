// A stand-in for Tandem's console JSON API (/console/api/*), used by dev-server.mjs while the
// server side is being written, and by the browser tests when they run against the dev server.
// It follows the contract in README (web/README.md) and is backed by the real `tandem serve`:
//   - counters come from tandem's /metrics;
//   - rooms are the ones the dev server's WebSocket proxy has seen; the mock joins each as a silent
//     y-websocket client (no awareness state) to read its document and awareness;
//   - "versions" are snapshots the mock keeps in memory (saved on "save now" and every few seconds
//     while a room changes); restoring one writes that content back into the live room as a normal
//     Yjs transaction, so connected clients receive it.
import crypto from 'node:crypto'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const RESTORE = Symbol('mock-restore')

const json = (res, status, body) => {
  const data = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(data) })
  res.end(data)
}
const error = (res, status, code, message) => json(res, status, { error: code, message })

const parseMetrics = (text) => {
  const sums = new Map()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/)
    if (!m) continue
    sums.set(m[1], (sums.get(m[1]) || 0) + Number(m[3]))
  }
  return (name) => sums.get(name) || 0
}

const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = []
  req.on('data', c => chunks.push(c))
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  req.on('error', reject)
})

// The JSON of every root type, as yjs's toJSON gives it (XmlFragment -> string).
export const rootsJson = (doc) => {
  doc.getXmlFragment('document')
  doc.getMap('shapes')
  doc.getMap('edges')
  doc.getArray('tasks')
  const out = {}
  for (const [name, type] of doc.share) {
    let t = type
    if (t.constructor === Y.AbstractType) t = t._map.size > 0 ? doc.getMap(name) : doc.getArray(name)
    out[name] = t.toJSON()
  }
  return out
}

// Replaces the content of the known root types of `doc` with those of `old`.
const restoreInto = (doc, old) => {
  doc.transact(() => {
    const frag = doc.getXmlFragment('document')
    frag.delete(0, frag.length)
    frag.insert(0, old.getXmlFragment('document').toArray().map(n => n.clone()))
    for (const name of ['shapes', 'edges']) {
      const cur = doc.getMap(name)
      for (const k of Array.from(cur.keys())) cur.delete(k)
      for (const [k, v] of old.getMap(name)) cur.set(k, v instanceof Y.AbstractType ? v.clone() : v)
    }
    const tasks = doc.getArray('tasks')
    tasks.delete(0, tasks.length)
    tasks.insert(0, old.getArray('tasks').toArray().map(v => (v instanceof Y.AbstractType ? v.clone() : v)))
  }, RESTORE)
}

export class MockConsoleApi {
  // tandem: base URL of the real server ("http://127.0.0.1:8080"); adminToken: required Bearer
  // token (null: none needed); autosaveMs: how often changed rooms get a version.
  constructor ({ tandem, adminToken = null, autosaveMs = 5000 }) {
    this.tandem = tandem.replace(/\/$/, '')
    this.adminToken = adminToken
    this.rooms = new Map()
    this.nextConnId = 1
    this.started = Date.now()
    this.timer = setInterval(() => {
      for (const r of this.rooms.values()) if (r.updatesSinceSave > 0) this.save(r)
    }, autosaveMs)
    this.timer.unref?.()
  }

  close () {
    clearInterval(this.timer)
    for (const r of this.rooms.values()) { r.provider.destroy(); r.provider.awareness.destroy(); r.doc.destroy() }
    this.rooms.clear()
  }

  room (id) {
    let r = this.rooms.get(id)
    if (r) return r
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(this.tandem.replace(/^http/, 'ws'), encodeURIComponent(id), doc,
      { WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 1000 })
    provider.awareness.setLocalState(null) // the mock is not a person
    r = { id, doc, provider, connections: new Map(), versions: [], nextVersion: 1, updatesSinceSave: 0, unsavedSinceMs: null, lastSave: null, lastError: null }
    doc.on('update', () => {
      r.updatesSinceSave++
      if (r.unsavedSinceMs === null) r.unsavedSinceMs = Date.now()
    })
    this.rooms.set(id, r)
    return r
  }

  // Called by the dev server's WebSocket proxy for every client connection to `roomId`.
  // Returns a function to call when it closes.
  trackConnection (roomId) {
    const r = this.room(roomId)
    const id = this.nextConnId++
    r.connections.set(id, { id, user: null, readOnly: false })
    return () => r.connections.delete(id)
  }

  save (r) {
    if (!r.provider.synced) {
      r.lastSave = { time: Date.now(), ok: false, error: 'not synced with the server yet' }
      return false
    }
    const bytes = Y.encodeStateAsUpdate(r.doc)
    const checksum = crypto.createHash('sha256').update(bytes).digest('hex')
    if (r.versions[0]?.checksum !== checksum) {
      r.versions.unshift({ version: r.nextVersion++, size: bytes.length, time: Date.now(), checksum, merged: false, bytes })
      r.versions.length = Math.min(r.versions.length, 10)
    }
    r.updatesSinceSave = 0
    r.unsavedSinceMs = null
    r.lastSave = { time: Date.now(), ok: true, error: null }
    return true
  }

  authorized (req, res) {
    if (!this.adminToken) return true
    const auth = req.headers.authorization || ''
    const m = auth.match(/^Bearer\s+(.+)$/i)
    if (m && m[1] === this.adminToken) return true
    res.setHeader('WWW-Authenticate', 'Bearer')
    error(res, 401, 'unauthorized', m ? 'Wrong admin token.' : 'The console API needs the admin token (Authorization: Bearer <token>).')
    return false
  }

  // Handles /console/api/*; returns false for other paths.
  async handle (req, res, url) {
    if (!url.pathname.startsWith('/console/api/')) return false
    if (!this.authorized(req, res)) return true
    const parts = url.pathname.slice('/console/api/'.length).split('/')
    try {
      if (parts[0] === 'overview' && parts.length === 1) return this.overview(req, res)
      if (parts[0] === 'rooms' && parts.length === 1) return this.roomList(req, res)
      if (parts[0] === 'rooms' && parts.length >= 2) {
        let id
        try { id = decodeURIComponent(parts[1]) } catch { return error(res, 400, 'bad_request', 'Bad room id.') }
        const r = this.rooms.get(id)
        if (!r) return error(res, 404, 'not_found', `No room ${JSON.stringify(id)}.`)
        const action = parts.slice(2).join('/')
        if (action === '' && req.method === 'GET') return this.roomDetail(res, r)
        if (action === 'versions' && req.method === 'GET') return json(res, 200, { versions: r.versions.map(({ bytes, ...v }) => v) })
        if (action === 'save' && req.method === 'POST') {
          await readBody(req)
          const ok = this.save(r)
          return ok ? json(res, 200, { saved: true }) : error(res, 503, 'store_unavailable', r.lastSave.error)
        }
        if (action === 'restore' && req.method === 'POST') {
          let body
          try { body = JSON.parse(await readBody(req) || '{}') } catch { return error(res, 400, 'bad_request', 'Body must be JSON.') }
          const v = r.versions.find(x => x.version === body.version)
          if (!v) return error(res, 404, 'not_found', `No version ${body.version} of this room.`)
          const old = new Y.Doc()
          Y.applyUpdate(old, v.bytes)
          restoreInto(r.doc, old)
          old.destroy()
          this.save(r)
          return json(res, 200, { restoredVersion: v.version })
        }
      }
      return error(res, 404, 'not_found', `No API route ${req.method} ${url.pathname}.`)
    } catch (e) {
      return error(res, 500, 'internal', String(e?.message || e))
    }
  }

  async overview (_req, res) {
    let metric
    try {
      const r = await fetch(`${this.tandem}/metrics`)
      metric = parseMetrics(await r.text())
    } catch (e) {
      return error(res, 503, 'unavailable', `tandem is not answering: ${e.message}`)
    }
    const watchers = [...this.rooms.values()].filter(r => r.provider.wsconnected).length
    json(res, 200, {
      node: 'dev-mock',
      version: '0.1.0',
      uptimeSeconds: (Date.now() - this.started) / 1000,
      counters: {
        connections: Math.max(0, metric('tandem_connections') - watchers),
        roomsLoaded: metric('tandem_rooms_loaded'),
        updatesApplied: metric('tandem_updates_applied_total'),
        bytesIn: metric('tandem_bytes_in_total'),
        bytesOut: metric('tandem_bytes_out_total'),
        messagesIn: metric('tandem_messages_in_total'),
        messagesOut: metric('tandem_messages_out_total'),
        savesOk: metric('tandem_saves_ok_total'),
        savesFailed: metric('tandem_saves_failed_total'),
        saveMicrosTotal: Math.round(metric('tandem_save_seconds_total') * 1e6),
        roomLoadFailures: metric('tandem_room_load_failures_total')
      }
    })
  }

  roomList (_req, res) {
    json(res, 200, {
      rooms: [...this.rooms.values()].map(r => ({
        id: r.id,
        connections: r.connections.size,
        documentBytes: Y.encodeStateAsUpdate(r.doc).length,
        updatesSinceSave: r.updatesSinceSave,
        unsavedSinceMs: r.unsavedSinceMs,
        lastSave: r.lastSave,
        lastError: r.lastError
      }))
    })
  }

  roomDetail (res, r) {
    const awareness = []
    for (const [clientId, state] of r.provider.awareness.getStates()) {
      if (clientId !== r.doc.clientID && state) awareness.push({ clientId, state })
    }
    json(res, 200, {
      id: r.id,
      loaded: r.provider.synced,
      connections: [...r.connections.values()],
      awareness,
      document: rootsJson(r.doc),
      documentBytes: Y.encodeStateAsUpdate(r.doc).length,
      stateVector: Object.fromEntries(Y.decodeStateVector(Y.encodeStateVector(r.doc)))
    })
  }
}
