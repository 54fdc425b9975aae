// One room: a Y.Doc with the three resources, the y-websocket provider on ws(s)://host/{room},
// awareness (who is here), and the connection/sync state shown by the indicator.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

// Transaction origins of the local bindings other than the editor's (the editor's is y-tiptap's
// ySyncPluginKey). Each resource's Y.UndoManager tracks only its own origin, so undo is per user.
export const DIAGRAM_ORIGIN = { binding: 'diagram' }
export const TASKS_ORIGIN = { binding: 'tasks' }

export const wsBaseUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`

export class Room {
  constructor (name, { token, user }) {
    this.name = name
    this.doc = new Y.Doc()
    this.fragment = this.doc.getXmlFragment('document')
    this.shapes = this.doc.getMap('shapes')
    this.edges = this.doc.getMap('edges')
    this.tasks = this.doc.getArray('tasks')
    this.listeners = new Set()
    this.pendingLocal = 0 // local updates made while offline, not yet synced
    this.closedBy = null // {code, reason} when the server refused us (4401, 4403, ...)
    this.everSynced = false
    this.provider = new WebsocketProvider(wsBaseUrl(), encodeURIComponent(name), this.doc, {
      params: token ? { token } : {},
      maxBackoffTime: 2500
    })
    this.awareness = this.provider.awareness
    this.awareness.setLocalStateField('user', user)

    this.doc.on('update', (_update, origin) => {
      if (origin === this.provider) return
      if (!this.provider.wsconnected || !this.provider.synced) {
        this.pendingLocal++
        this.emit()
      }
    })
    this.provider.on('status', () => this.emit())
    this.provider.on('sync', (synced) => {
      if (synced) {
        // sync step 2 both ways: what we had offline reached the server with our step 2
        this.pendingLocal = 0
        this.everSynced = true
        this.closedBy = null
      }
      this.emit()
    })
    this.provider.on('closed', (ev) => { this.closedBy = ev; this.emit() })
    this.provider.on('connection-close', (ev) => {
      if (ev && ev.code >= 4000) this.closedBy = { code: ev.code, reason: ev.reason }
      // 4410: the room was deleted (document API). Reconnecting would upload this copy into the
      // new, empty room: stay disconnected.
      if (ev && ev.code === 4410) this.provider.disconnect()
      this.emit()
    })
    window.addEventListener('online', () => this.emit())
    window.addEventListener('offline', () => this.emit())
  }

  // 'connected' (synced), 'syncing' (socket open, sync not done), 'offline'
  get state () {
    const p = this.provider
    if (p.wsconnected && p.synced) return 'connected'
    if (p.wsconnected || (p.wsconnecting && !this.closedBy && this.pendingLocal === 0 && !this.everSynced)) return 'syncing'
    return 'offline'
  }

  setToken (token) {
    this.provider.params = token ? { token } : {}
    this.closedBy = null
    this.provider.disconnect()
    this.provider.connect()
    this.emit()
  }

  setUser (user) { this.awareness.setLocalStateField('user', user) }

  onChange (fn) { this.listeners.add(fn); return () => this.listeners.delete(fn) }
  emit () { for (const fn of this.listeners) fn(this) }
}
