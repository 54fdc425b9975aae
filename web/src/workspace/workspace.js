// The room page at /w/{room}: header (room, tabs, undo/redo, sync state, presence, you), and the
// three resources as tab panels (#doc, #diagram, #tasks).
import { h, inTextField } from '../shared/dom.js'
import { logoMark } from '../shared/logo.js'
import { icon } from './icons.js'
import { Room } from './room.js'
import { DocumentPanel } from './editor.js'
import { DiagramPanel } from './diagram.js'
import { TasksPanel } from './tasks.js'
import { Presence } from './presence.js'
import { COLORS, loadIdentity, saveIdentity, rememberRoom, initials } from './identity.js'

const TABS = [
  { id: 'doc', label: 'Document', icon: 'doc' },
  { id: 'diagram', label: 'Diagram', icon: 'diagram' },
  { id: 'tasks', label: 'Tasks', icon: 'tasks' }
]

const CLOSE_REASONS = {
  4401: 'the server needs a valid access token for this room',
  4403: 'your token does not give access to this room',
  4404: 'this room name is not accepted by the server',
  4429: 'the server has too many connections right now'
}

const tokenFromPage = () => {
  const q = new URLSearchParams(location.search).get('token')
  if (q) return q
  try { return sessionStorage.getItem('tandem.token') || '' } catch { return '' }
}

export class Workspace {
  constructor (root, roomName) {
    this.root = root
    this.roomName = roomName
    this.user = loadIdentity()
    this.token = tokenFromPage()
    rememberRoom(roomName)
    document.title = `${roomName} · Tandem`

    this.room = new Room(roomName, { token: this.token, user: this.user })
    const onUndoChange = () => this.updateUndo()
    this.panels = {
      doc: new DocumentPanel(this.room, { user: this.user, onUndoChange }),
      diagram: new DiagramPanel(this.room, { onUndoChange }),
      tasks: new TasksPanel(this.room, { onUndoChange })
    }
    this.presence = new Presence(this.room)
    this.build()
    this.room.onChange(() => this.updateStatus())
    this.updateStatus()
    window.addEventListener('hashchange', () => this.activate(this.tabFromHash()))
    document.addEventListener('keydown', (e) => this.onKey(e))
    this.activate(this.tabFromHash(), { focus: false })
    // expose for tests and debugging (the Y.Doc, provider and panels)
    window.tandem = { room: this.room, doc: this.room.doc, provider: this.room.provider, panels: this.panels }
  }

  tabFromHash () {
    const id = location.hash.replace(/^#/, '')
    return TABS.some(t => t.id === id) ? id : 'doc'
  }

  build () {
    const shareUrl = `${location.origin}/w/${encodeURIComponent(this.roomName)}`
    this.copyBtn = h('button', {
      class: 'btn ghost small', type: 'button', title: 'Copy the link to this room', dataset: { action: 'copy-link' },
      onClick: async () => {
        const url = shareUrl + (location.hash || '')
        try { await navigator.clipboard.writeText(url); this.flash(this.copyBtn, 'Copied') } catch { window.prompt('Copy this link', url) }
      }
    }, icon('copy', 15), h('span', null, 'Copy link'))

    this.tabEls = TABS.map(t => h('a', {
      class: 'tab', role: 'tab', id: `tab-${t.id}`, href: `#${t.id}`, 'aria-controls': `panel-${t.id}`, dataset: { tab: t.id },
      onKeydown: (e) => {
        const i = TABS.findIndex(x => x.id === t.id)
        const j = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1
        if (j >= 0) { e.preventDefault(); location.hash = TABS[j].id; this.tabEls[j].focus() }
      }
    }, icon(t.icon, 16), t.label))

    this.undoBtn = h('button', { class: 'btn ghost icon', type: 'button', title: 'Undo (Ctrl+Z)', 'aria-label': 'Undo', dataset: { action: 'undo' }, onMousedown: (e) => e.preventDefault(), onClick: () => this.undo() }, icon('undo'))
    this.redoBtn = h('button', { class: 'btn ghost icon', type: 'button', title: 'Redo (Ctrl+Shift+Z)', 'aria-label': 'Redo', dataset: { action: 'redo' }, onMousedown: (e) => e.preventDefault(), onClick: () => this.redo() }, icon('redo'))

    this.statusLabel = h('span', { class: 'label' })
    this.status = h('div', { class: 'sync', role: 'status', 'aria-live': 'polite', 'data-testid': 'sync' }, h('span', { class: 'dot' }), this.statusLabel)

    // "You" popover: name, colour, access token
    this.meAvatar = h('span', { class: 'me-avatar', 'aria-hidden': 'true' })
    this.meBtn = h('button', { class: 'btn ghost me', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', dataset: { action: 'me' }, onClick: () => this.togglePopover() }, this.meAvatar, h('span', { class: 'me-name' }))
    this.nameInput = h('input', { class: 'input', id: 'my-name', type: 'text', maxLength: 40, value: this.user.name, autocomplete: 'nickname' })
    this.nameInput.addEventListener('input', () => this.setUser({ name: this.nameInput.value.trim() || this.user.name }))
    this.nameInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); this.togglePopover(false) } })
    this.colorBtns = h('div', { class: 'swatches', role: 'group', 'aria-label': 'Your colour' }, COLORS.map(c => h('button', {
      class: 'swatch', type: 'button', style: { background: c }, 'aria-label': `Colour ${c}`, dataset: { color: c },
      onClick: () => this.setUser({ color: c })
    })))
    this.tokenInput = h('input', { class: 'input', id: 'access-token', type: 'password', value: this.token, autocomplete: 'off', placeholder: 'Only for servers with --auth' })
    this.popover = h('div', { class: 'popover card', role: 'dialog', 'aria-label': 'Your settings', hidden: true },
      h('label', { class: 'field-label', for: 'my-name' }, 'Your name'), this.nameInput,
      h('div', { class: 'field-label' }, 'Your colour'), this.colorBtns,
      h('form', { class: 'token-form', onSubmit: (e) => { e.preventDefault(); this.applyToken(this.tokenInput.value.trim()) } },
        h('label', { class: 'field-label', for: 'access-token' }, 'Access token'),
        h('div', { class: 'row' }, this.tokenInput, h('button', { class: 'btn', type: 'submit' }, 'Reconnect'))))
    this.popover.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); this.togglePopover(false); this.meBtn.focus() } })
    document.addEventListener('pointerdown', (e) => {
      if (!this.popover.hidden && !this.popover.contains(e.target) && !this.meBtn.contains(e.target)) this.togglePopover(false)
    })

    // refused by the server (4401/4403...): say why and ask for a token
    this.bannerToken = h('input', { class: 'input', type: 'password', 'aria-label': 'Access token', placeholder: 'Access token', autocomplete: 'off' })
    this.banner = h('form', { class: 'banner bad access-banner', hidden: true, role: 'alert', onSubmit: (e) => { e.preventDefault(); this.applyToken(this.bannerToken.value.trim()) } },
      h('span', { class: 'banner-text' }), this.bannerToken, h('button', { class: 'btn', type: 'submit' }, 'Connect'))

    this.header = h('header', { class: 'topbar' },
      h('div', { class: 'topbar-left' },
        h('a', { class: 'logo', href: '/', title: 'All rooms' }, logoMark(), h('span', null, 'Tandem')),
        h('div', { class: 'room-chip' }, h('span', { class: 'room-label' }, 'Room'), h('strong', { class: 'room-name', title: this.roomName }, this.roomName), this.copyBtn)),
      h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'Resources' }, this.tabEls),
      h('div', { class: 'topbar-right' },
        h('div', { class: 'undo-group' }, this.undoBtn, this.redoBtn),
        this.status, this.presence.el,
        h('div', { class: 'me-wrap' }, this.meBtn, this.popover)))

    this.main = h('main', { class: 'panels' }, Object.values(this.panels).map(p => p.el))
    this.root.replaceChildren(h('div', { class: 'workspace' }, this.header, this.banner, this.main))
    this.renderMe()
  }

  activate (id, { focus = true } = {}) {
    this.active = id
    for (const el of this.tabEls) {
      const on = el.dataset.tab === id
      el.setAttribute('aria-selected', String(on))
      el.tabIndex = on ? 0 : -1
    }
    for (const [pid, p] of Object.entries(this.panels)) p.el.hidden = pid !== id
    this.room.awareness.setLocalStateField('tab', id)
    this.updateUndo()
    if (id === 'diagram') this.panels.diagram.render()
    if (focus && document.activeElement && !this.header.contains(document.activeElement)) this.panels[id].focus?.()
  }

  get activePanel () { return this.panels[this.active] }
  undo () { this.activePanel.undo(); this.updateUndo() }
  redo () { this.activePanel.redo(); this.updateUndo() }
  updateUndo () {
    const p = this.activePanel
    if (!p || !this.undoBtn) return
    this.undoBtn.disabled = !p.canUndo()
    this.redoBtn.disabled = !p.canRedo()
  }

  onKey (e) {
    const mod = e.ctrlKey || e.metaKey
    if (e.altKey && !mod && ['1', '2', '3'].includes(e.key)) { e.preventDefault(); location.hash = TABS[Number(e.key) - 1].id; return }
    if (!mod || e.altKey) return
    const k = e.key.toLowerCase()
    if (k !== 'z' && k !== 'y') return
    // the editor and text fields keep their own undo
    if (inTextField(e.target)) return
    e.preventDefault()
    if (k === 'y' || e.shiftKey) this.redo(); else this.undo()
  }

  setUser (patch) {
    this.user = { ...this.user, ...patch }
    saveIdentity(this.user)
    this.room.setUser(this.user)
    this.panels.doc.setUser(this.user)
    this.renderMe()
  }

  renderMe () {
    this.meAvatar.textContent = initials(this.user.name)
    this.meAvatar.style.background = this.user.color
    this.meBtn.querySelector('.me-name').textContent = this.user.name
    this.meBtn.title = `You: ${this.user.name} (change name and colour)`
    for (const b of this.colorBtns.children) b.setAttribute('aria-pressed', String(b.dataset.color === this.user.color))
  }

  togglePopover (open = this.popover.hidden) {
    this.popover.hidden = !open
    this.meBtn.setAttribute('aria-expanded', String(open))
    if (open) { this.nameInput.focus(); this.nameInput.select() }
  }

  applyToken (token) {
    this.token = token
    try { if (token) sessionStorage.setItem('tandem.token', token); else sessionStorage.removeItem('tandem.token') } catch { /* ignore */ }
    const url = new URL(location.href)
    if (url.searchParams.has('token')) { url.searchParams.delete('token'); history.replaceState(null, '', url) }
    this.tokenInput.value = token
    this.room.setToken(token)
    this.togglePopover(false)
  }

  updateStatus () {
    const r = this.room
    const state = r.state
    const pending = r.pendingLocal
    this.status.dataset.state = state
    this.status.dataset.pending = String(pending)
    const labels = {
      connected: 'Connected',
      syncing: 'Syncing…',
      offline: pending ? `Offline · ${pending} local edit${pending === 1 ? '' : 's'} pending` : 'Offline'
    }
    this.statusLabel.textContent = labels[state]
    this.status.title = state === 'connected'
      ? 'Connected: your edits reach everyone in this room.'
      : state === 'syncing' ? 'Connecting and exchanging changes with the server.' : 'Not connected. Keep editing: your changes are kept here and merged when the connection is back.'
    const closed = r.closedBy
    if (closed && state !== 'connected' && (closed.code >= 4400 && closed.code < 4500)) {
      this.banner.hidden = false
      this.banner.querySelector('.banner-text').textContent = `Can't join this room: ${CLOSE_REASONS[closed.code] || closed.reason || 'refused by the server'} (${closed.code}).`
    } else {
      this.banner.hidden = true
    }
  }

  flash (btn, text) {
    const span = btn.querySelector('span')
    const old = span.textContent
    span.textContent = text
    setTimeout(() => { span.textContent = old }, 1400)
  }
}
