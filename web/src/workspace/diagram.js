// The diagrams resource: shapes on an SVG canvas, arrows between them, other users' pointers.
// Model: root Y.Map `shapes` (id -> Y.Map {kind, x, y, w, h, text, color}) and root Y.Map `edges`
// (id -> Y.Map {from, to}). Every local change is a transaction with DIAGRAM_ORIGIN, which the
// diagram's own Y.UndoManager tracks.
import * as Y from 'yjs'
import { h, s, attrs, randomId } from '../shared/dom.js'
import { DIAGRAM_ORIGIN } from './room.js'
import { icon } from './icons.js'

export const FILLS = ['#dbeafe', '#dcfce7', '#fef3c7', '#fce7f3', '#ede9fe', '#e2e8f0', '#ffffff']
export const INKS = ['#1b2130', '#1d4ed8', '#15803d', '#b45309', '#be185d', '#6d28d9']
const DEFAULTS = {
  rectangle: { w: 150, h: 80, color: FILLS[0] },
  ellipse: { w: 150, h: 90, color: FILLS[1] },
  text: { w: 160, h: 40, color: INKS[0] }
}
const KIND_LABEL = { rectangle: 'Rectangle', ellipse: 'Ellipse', text: 'Text' }
const MIN_SIZE = 24

// Ids sort by creation time, so every peer draws shapes in the same order.
const newId = () => `${Date.now().toString(36).padStart(9, '0')}-${randomId(3)}`

const num = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const shapeData = (m) => ({
  kind: ['rectangle', 'ellipse', 'text'].includes(m.get('kind')) ? m.get('kind') : 'rectangle',
  x: num(m.get('x'), 0),
  y: num(m.get('y'), 0),
  w: Math.max(MIN_SIZE, num(m.get('w'), 120)),
  h: Math.max(MIN_SIZE, num(m.get('h'), 60)),
  text: typeof m.get('text') === 'string' ? m.get('text') : '',
  color: typeof m.get('color') === 'string' && /^#[0-9a-f]{3,8}$/i.test(m.get('color')) ? m.get('color') : '#ffffff'
})

// Where the segment from a shape's centre towards (tx, ty) leaves its outline.
const boundaryPoint = (sh, tx, ty, pad = 3) => {
  const cx = sh.x + sh.w / 2
  const cy = sh.y + sh.h / 2
  const dx = tx - cx
  const dy = ty - cy
  if (dx === 0 && dy === 0) return { x: cx, y: cy }
  const a = sh.w / 2 + pad
  const b = sh.h / 2 + pad
  const t = sh.kind === 'ellipse'
    ? 1 / Math.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    : Math.min(dx === 0 ? Infinity : a / Math.abs(dx), dy === 0 ? Infinity : b / Math.abs(dy))
  return { x: cx + dx * t, y: cy + dy * t }
}

export class DiagramPanel {
  constructor (room, { onUndoChange }) {
    this.room = room
    this.shapes = room.shapes
    this.edges = room.edges
    this.selected = null // {type: 'shape'|'edge', id}
    this.connectFrom = null
    this.connectMode = false
    this.drag = null
    this.shapeEls = new Map()
    this.edgeEls = new Map()
    this.pointerEls = new Map()
    this.undoManager = new Y.UndoManager([this.shapes, this.edges], { trackedOrigins: new Set([DIAGRAM_ORIGIN]), captureTimeout: 400 })
    for (const ev of ['stack-item-added', 'stack-item-popped', 'stack-cleared']) this.undoManager.on(ev, () => onUndoChange?.())

    const addBtn = (kind) => h('button', {
      class: 'btn', type: 'button', dataset: { add: kind }, title: `Add ${KIND_LABEL[kind].toLowerCase()}`,
      onClick: () => this.addShape(kind)
    }, icon(kind === 'rectangle' ? 'rect' : kind), KIND_LABEL[kind])
    this.connectBtn = h('button', {
      class: 'btn', type: 'button', 'aria-pressed': 'false', title: 'Connect two shapes with an arrow (C)', dataset: { action: 'connect' },
      onClick: () => this.toggleConnect()
    }, icon('connect'), 'Connect')
    this.deleteBtn = h('button', {
      class: 'btn danger', type: 'button', disabled: true, title: 'Delete the selection (Delete)', dataset: { action: 'delete' },
      onClick: () => this.deleteSelected()
    }, icon('trash'), 'Delete')
    this.editBtn = h('button', {
      class: 'btn', type: 'button', disabled: true, title: 'Edit the label (Enter)', dataset: { action: 'edit' },
      onClick: () => { if (this.selected?.type === 'shape') this.editLabel(this.selected.id) }
    }, 'Edit label')
    this.swatches = h('div', { class: 'swatches', role: 'group', 'aria-label': 'Colour' })
    this.hint = h('div', { class: 'diagram-hint', 'aria-live': 'polite' })

    this.edgeLayer = s('g', { class: 'edges' })
    this.shapeLayer = s('g', { class: 'shapes' })
    this.pointerLayer = s('g', { class: 'pointers', 'aria-hidden': 'true' })
    this.svg = s('svg', { class: 'canvas', role: 'application', 'aria-label': 'Diagram canvas', 'aria-roledescription': 'diagram' },
      s('defs', null,
        s('marker', { id: 'arrowhead', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
          s('path', { d: 'M0 1L9 5L0 9z', fill: '#475569' })),
        s('marker', { id: 'arrowhead-sel', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
          s('path', { d: 'M0 1L9 5L0 9z', fill: '#4f46e5' }))),
      this.edgeLayer, this.shapeLayer, this.pointerLayer)
    this.labelInput = h('input', { class: 'label-editor', type: 'text', hidden: true, 'aria-label': 'Shape label' })
    this.empty = h('div', { class: 'canvas-empty' }, 'Add a rectangle, an ellipse or a text, then drag it around. Double-click a shape to edit its label.')
    this.wrap = h('div', { class: 'canvas-wrap' }, this.svg, this.labelInput, this.empty)

    this.el = h('section', { class: 'panel diagram-panel', id: 'panel-diagram', role: 'tabpanel', 'aria-labelledby': 'tab-diagram' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Diagram tools' },
        h('div', { class: 'group' }, addBtn('rectangle'), addBtn('ellipse'), addBtn('text')),
        h('div', { class: 'sep' }),
        h('div', { class: 'group' }, this.connectBtn, this.editBtn, this.deleteBtn),
        h('div', { class: 'sep' }),
        this.swatches,
        this.hint),
      this.wrap)

    this.svg.addEventListener('pointerdown', (e) => this.onPointerDown(e))
    this.svg.addEventListener('dblclick', (e) => {
      const g = e.target.closest?.('.shape')
      if (g) this.editLabel(g.dataset.id)
    })
    this.svg.addEventListener('keydown', (e) => this.onKeyDown(e))
    this.svg.addEventListener('focusin', (e) => {
      const g = e.target.closest?.('.shape, .edge-g')
      if (g && !this.drag) this.select({ type: g.classList.contains('shape') ? 'shape' : 'edge', id: g.dataset.id })
    })
    this.svg.addEventListener('pointermove', (e) => this.sharePointer(e))
    this.svg.addEventListener('pointerleave', () => this.sharePointer(null))
    this.labelInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); this.commitLabel() }
      if (e.key === 'Escape') { e.preventDefault(); this.cancelLabel() }
      e.stopPropagation()
    })
    this.labelInput.addEventListener('blur', () => this.commitLabel())

    this.shapes.observeDeep(() => this.render())
    this.edges.observeDeep(() => this.render())
    this.room.awareness.on('change', () => this.renderPointers())
    this.render()
  }

  canUndo () { return this.undoManager.undoStack.length > 0 }
  canRedo () { return this.undoManager.redoStack.length > 0 }
  undo () { this.undoManager.undo() }
  redo () { this.undoManager.redo() }
  focus () {
    const g = (this.selected?.type === 'shape' && this.shapeEls.get(this.selected.id)) || this.shapeLayer.querySelector('.shape')
    if (g) g.focus(); else this.el.querySelector('[data-add="rectangle"]').focus()
  }

  transact (fn) { this.room.doc.transact(fn, DIAGRAM_ORIGIN) }

  toSvg (clientX, clientY) {
    const m = this.svg.getScreenCTM()
    if (!m) return { x: clientX, y: clientY }
    const p = new DOMPoint(clientX, clientY).matrixTransform(m.inverse())
    return { x: p.x, y: p.y }
  }

  addShape (kind) {
    const d = DEFAULTS[kind]
    // the first free slot of a grid (4 per row), so new shapes do not cover each other
    const cols = Math.max(1, Math.min(4, Math.floor((this.wrap.clientWidth - 40) / 200)))
    const ox = Math.round(this.wrap.scrollLeft) + 40
    const oy = Math.round(this.wrap.scrollTop) + 40
    const taken = (x, y) => Array.from(this.shapes.values()).some(m => m instanceof Y.Map && Math.abs(num(m.get('x'), -999) - x) < 60 && Math.abs(num(m.get('y'), -999) - y) < 40)
    let slot = 0
    while (slot < 40 && taken(ox + (slot % cols) * 200, oy + Math.floor(slot / cols) * 140)) slot++
    const baseX = ox + (slot % cols) * 200
    const baseY = oy + Math.floor(slot / cols) * 140
    const id = newId()
    this.undoManager.stopCapturing()
    this.transact(() => {
      const m = new Y.Map()
      m.set('kind', kind)
      m.set('x', baseX)
      m.set('y', baseY)
      m.set('w', d.w)
      m.set('h', d.h)
      m.set('text', kind === 'text' ? 'Text' : '')
      m.set('color', d.color)
      this.shapes.set(id, m)
    })
    this.undoManager.stopCapturing()
    this.select({ type: 'shape', id })
    this.editLabel(id)
    return id
  }

  addEdge (from, to) {
    if (from === to || !this.shapes.has(from) || !this.shapes.has(to)) return
    for (const [, e] of this.edges) if (e.get('from') === from && e.get('to') === to) return
    const id = newId()
    this.undoManager.stopCapturing()
    this.transact(() => {
      const m = new Y.Map()
      m.set('from', from)
      m.set('to', to)
      this.edges.set(id, m)
    })
    this.undoManager.stopCapturing()
    this.select({ type: 'edge', id })
  }

  deleteSelected () {
    const sel = this.selected
    if (!sel) return
    this.undoManager.stopCapturing()
    this.transact(() => {
      if (sel.type === 'shape') {
        this.shapes.delete(sel.id)
        for (const [eid, e] of Array.from(this.edges.entries())) {
          if (e.get('from') === sel.id || e.get('to') === sel.id) this.edges.delete(eid)
        }
      } else {
        this.edges.delete(sel.id)
      }
    })
    this.undoManager.stopCapturing()
    this.select(null)
  }

  setColor (color) {
    if (this.selected?.type !== 'shape') return
    const m = this.shapes.get(this.selected.id)
    if (m) { this.undoManager.stopCapturing(); this.transact(() => m.set('color', color)) }
  }

  toggleConnect (force) {
    this.connectMode = force ?? !this.connectMode
    this.connectFrom = this.connectMode && this.selected?.type === 'shape' ? this.selected.id : null
    this.updateChrome()
  }

  select (sel) {
    this.selected = sel
    this.room.awareness.setLocalStateField('selection', sel && sel.type === 'shape' ? { shape: sel.id } : null)
    this.render()
  }

  onPointerDown (e) {
    if (e.button !== 0) return
    if (!this.labelInput.hidden) this.commitLabel()
    const target = e.target
    const handle = target.closest('.handle')
    const g = target.closest('.shape')
    const edge = target.closest('.edge-g')
    const p = this.toSvg(e.clientX, e.clientY)
    if (handle && g) {
      e.preventDefault()
      const sh = shapeData(this.shapes.get(g.dataset.id))
      this.startDrag({ mode: 'resize', id: g.dataset.id, ox: sh.x, oy: sh.y, dx: p.x - (sh.x + sh.w), dy: p.y - (sh.y + sh.h) })
      return
    }
    if (g) {
      e.preventDefault()
      const id = g.dataset.id
      if (this.connectMode) {
        if (!this.connectFrom) { this.connectFrom = id; this.select({ type: 'shape', id }); this.updateChrome() } else if (this.connectFrom !== id) {
          const from = this.connectFrom
          this.connectMode = false
          this.connectFrom = null
          this.addEdge(from, id)
        }
        g.focus({ preventScroll: true })
        return
      }
      this.select({ type: 'shape', id })
      g.focus({ preventScroll: true })
      const sh = shapeData(this.shapes.get(id))
      this.startDrag({ mode: 'move', id, dx: p.x - sh.x, dy: p.y - sh.y, sx: sh.x, sy: sh.y })
      return
    }
    if (edge) {
      e.preventDefault()
      this.select({ type: 'edge', id: edge.dataset.id })
      edge.focus({ preventScroll: true })
      return
    }
    this.connectMode = false
    this.connectFrom = null
    this.select(null)
  }

  startDrag (drag) {
    this.drag = drag
    this.undoManager.stopCapturing()
    const move = (e) => {
      if (!this.drag) return
      this.drag.last = this.toSvg(e.clientX, e.clientY)
      this.sharePointer(e)
      if (!this.drag.raf) this.drag.raf = requestAnimationFrame(() => { if (this.drag) { this.drag.raf = 0; this.applyDrag() } })
    }
    const up = (e) => {
      document.removeEventListener('pointermove', move)
      document.removeEventListener('pointerup', up)
      document.removeEventListener('pointercancel', up)
      if (this.drag) {
        if (this.drag.raf) cancelAnimationFrame(this.drag.raf)
        this.drag.last = this.toSvg(e.clientX, e.clientY)
        this.applyDrag()
      }
      this.drag = null
      this.undoManager.stopCapturing()
      this.render()
    }
    document.addEventListener('pointermove', move)
    document.addEventListener('pointerup', up)
    document.addEventListener('pointercancel', up)
  }

  applyDrag () {
    const d = this.drag
    const m = d && this.shapes.get(d.id)
    if (!m || !d.last) return
    const p = d.last
    if (d.mode === 'move') {
      const x = Math.round(Math.max(0, p.x - d.dx))
      const y = Math.round(Math.max(0, p.y - d.dy))
      if (x !== m.get('x') || y !== m.get('y')) this.transact(() => { m.set('x', x); m.set('y', y) })
    } else {
      const w = Math.round(Math.max(MIN_SIZE, p.x - d.dx - d.ox))
      const hh = Math.round(Math.max(MIN_SIZE, p.y - d.dy - d.oy))
      if (w !== m.get('w') || hh !== m.get('h')) this.transact(() => { m.set('w', w); m.set('h', hh) })
    }
  }

  onKeyDown (e) {
    const g = e.target.closest?.('.shape, .edge-g')
    if (!g) return
    const id = g.dataset.id
    const isShape = g.classList.contains('shape')
    if (e.key === 'Delete' || e.key === 'Backspace') { e.preventDefault(); this.select({ type: isShape ? 'shape' : 'edge', id }); this.deleteSelected(); return }
    if (e.key === 'Escape') { e.preventDefault(); this.connectMode = false; this.connectFrom = null; this.select(null); g.blur(); return }
    if (!isShape) return
    if (e.key === 'Enter' || e.key === 'F2') {
      e.preventDefault()
      if (this.connectMode) {
        if (!this.connectFrom) { this.connectFrom = id; this.updateChrome() } else if (this.connectFrom !== id) { const from = this.connectFrom; this.connectMode = false; this.connectFrom = null; this.addEdge(from, id); this.shapeEls.get(id)?.focus() }
        return
      }
      this.editLabel(id)
      return
    }
    if (e.key === 'c' || e.key === 'C') { e.preventDefault(); this.select({ type: 'shape', id }); this.toggleConnect(true); return }
    const step = e.shiftKey ? 1 : 10
    const dirs = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }
    if (dirs[e.key]) {
      e.preventDefault()
      const m = this.shapes.get(id)
      if (!m) return
      const [dx, dy] = dirs[e.key]
      this.transact(() => {
        if (e.altKey) { m.set('w', Math.max(MIN_SIZE, num(m.get('w'), 100) + dx)); m.set('h', Math.max(MIN_SIZE, num(m.get('h'), 60) + dy)) } else { m.set('x', Math.max(0, num(m.get('x'), 0) + dx)); m.set('y', Math.max(0, num(m.get('y'), 0) + dy)) }
      })
    }
  }

  editLabel (id) {
    const m = this.shapes.get(id)
    const g = this.shapeEls.get(id)
    if (!m || !g) return
    this.editing = id
    const wrapRect = this.wrap.getBoundingClientRect()
    const r = g.querySelector('.body').getBoundingClientRect()
    const width = Math.max(120, r.width - 16)
    Object.assign(this.labelInput.style, {
      left: `${r.left - wrapRect.left + this.wrap.scrollLeft + (r.width - width) / 2}px`,
      top: `${r.top - wrapRect.top + this.wrap.scrollTop + r.height / 2 - 17}px`,
      width: `${width}px`
    })
    this.labelInput.value = m.get('text') || ''
    this.labelInput.hidden = false
    this.labelInput.focus()
    this.labelInput.select()
  }

  commitLabel () {
    if (this.labelInput.hidden) return
    const id = this.editing
    const value = this.labelInput.value
    this.labelInput.hidden = true
    this.editing = null
    const m = this.shapes.get(id)
    if (m && m.get('text') !== value) {
      this.undoManager.stopCapturing()
      this.transact(() => m.set('text', value))
    }
    this.shapeEls.get(id)?.focus({ preventScroll: true })
  }

  cancelLabel () {
    const id = this.editing
    this.labelInput.hidden = true
    this.editing = null
    this.shapeEls.get(id)?.focus({ preventScroll: true })
  }

  sharePointer (e) {
    const now = performance.now()
    if (e && now - (this.lastPointerShare || 0) < 40) return
    this.lastPointerShare = now
    const aw = this.room.awareness
    if (!e) { aw.setLocalStateField('pointer', null); return }
    const p = this.toSvg(e.clientX, e.clientY)
    aw.setLocalStateField('pointer', { x: Math.round(p.x), y: Math.round(p.y) })
  }

  updateChrome () {
    const sel = this.selected
    this.deleteBtn.disabled = !sel
    this.editBtn.disabled = sel?.type !== 'shape'
    this.connectBtn.setAttribute('aria-pressed', String(this.connectMode))
    this.wrap.classList.toggle('connecting', this.connectMode)
    this.hint.textContent = this.connectMode
      ? (this.connectFrom ? 'Now click the shape the arrow points to (Esc cancels).' : 'Click the shape the arrow starts from.')
      : ''
    // colour swatches for the selected shape
    this.swatches.replaceChildren()
    if (sel?.type === 'shape' && this.shapes.get(sel.id)) {
      const sh = shapeData(this.shapes.get(sel.id))
      const palette = sh.kind === 'text' ? INKS : FILLS
      for (const c of palette) {
        this.swatches.append(h('button', {
          class: 'swatch', type: 'button', title: `Colour ${c}`, 'aria-label': `Colour ${c}`,
          'aria-pressed': String(sh.color.toLowerCase() === c), style: { background: c },
          onMousedown: (e) => e.preventDefault(),
          onClick: () => this.setColor(c)
        }))
      }
    }
  }

  render () {
    const shapes = new Map()
    for (const [id, m] of this.shapes) if (m instanceof Y.Map) shapes.set(id, shapeData(m))
    if (this.selected && !(this.selected.type === 'shape' ? shapes.has(this.selected.id) : this.edges.has(this.selected.id))) this.selected = null
    const remoteSel = new Map()
    for (const [clientId, st] of this.room.awareness.getStates()) {
      if (clientId !== this.room.doc.clientID && st?.selection?.shape && st.user?.color) remoteSel.set(st.selection.shape, st.user)
    }

    // shapes, in id order (creation time), keyed
    const ids = Array.from(shapes.keys()).sort()
    for (const [id, g] of this.shapeEls) if (!shapes.has(id)) { g.remove(); this.shapeEls.delete(id) }
    let prev = null
    for (const id of ids) {
      const sh = shapes.get(id)
      let g = this.shapeEls.get(id)
      if (!g) {
        g = s('g', { class: 'shape', tabindex: 0, role: 'button', 'data-id': id },
          s('rect', { class: 'remote-sel' }),
          s('rect', { class: 'sel-outline' }),
          s(sh.kind === 'ellipse' ? 'ellipse' : 'rect', { class: 'body' }),
          s('text', { class: 'label', 'text-anchor': 'middle', 'dominant-baseline': 'central' }),
          s('rect', { class: 'handle', width: 12, height: 12, rx: 3 }))
        this.shapeEls.set(id, g)
      }
      let body = g.querySelector('.body')
      if ((sh.kind === 'ellipse') !== (body.tagName === 'ellipse')) {
        const nb = s(sh.kind === 'ellipse' ? 'ellipse' : 'rect', { class: 'body' })
        body.replaceWith(nb)
        body = nb
      }
      const selected = this.selected?.type === 'shape' && this.selected.id === id
      attrs(g, {
        transform: `translate(${sh.x} ${sh.y})`, 'data-kind': sh.kind,
        'aria-label': `${KIND_LABEL[sh.kind]}${sh.text ? `: ${sh.text}` : ''}`,
        'aria-pressed': String(selected), class: `shape kind-${sh.kind}${selected ? ' selected' : ''}${this.connectFrom === id ? ' connect-from' : ''}`
      })
      if (sh.kind === 'ellipse') attrs(body, { cx: sh.w / 2, cy: sh.h / 2, rx: sh.w / 2, ry: sh.h / 2, fill: sh.color })
      else if (sh.kind === 'text') attrs(body, { x: 0, y: 0, width: sh.w, height: sh.h, rx: 6, fill: 'transparent' })
      else attrs(body, { x: 0, y: 0, width: sh.w, height: sh.h, rx: 10, fill: sh.color })
      attrs(g.querySelector('.sel-outline'), { x: -5, y: -5, width: sh.w + 10, height: sh.h + 10, rx: sh.kind === 'ellipse' ? Math.min(sh.w, sh.h) / 2 + 5 : 13 })
      const rs = remoteSel.get(id)
      attrs(g.querySelector('.remote-sel'), { x: -4, y: -4, width: sh.w + 8, height: sh.h + 8, rx: 12, stroke: rs?.color, visibility: rs ? 'visible' : 'hidden' })
      const label = g.querySelector('.label')
      attrs(label, { x: sh.w / 2, y: sh.h / 2, fill: sh.kind === 'text' ? sh.color : '#1b2130', class: `label${sh.kind === 'text' ? ' big' : ''}` })
      if (label.textContent !== sh.text) label.textContent = sh.text
      attrs(g.querySelector('.handle'), { x: sh.w - 6, y: sh.h - 6 })
      // keep document order = z order without moving the focused node needlessly
      const want = prev ? prev.nextSibling : this.shapeLayer.firstChild
      if (want !== g) this.shapeLayer.insertBefore(g, want)
      prev = g
    }

    // edges
    const seen = new Set()
    for (const [id, m] of this.edges) {
      if (!(m instanceof Y.Map)) continue
      const a = shapes.get(m.get('from'))
      const b = shapes.get(m.get('to'))
      if (!a || !b) continue
      seen.add(id)
      let g = this.edgeEls.get(id)
      if (!g) {
        g = s('g', { class: 'edge-g', tabindex: 0, role: 'button', 'data-id': id },
          s('line', { class: 'edge-hit' }), s('line', { class: 'edge', 'marker-end': 'url(#arrowhead)' }))
        this.edgeEls.set(id, g)
        this.edgeLayer.append(g)
      }
      const p1 = boundaryPoint(a, b.x + b.w / 2, b.y + b.h / 2)
      const p2 = boundaryPoint(b, a.x + a.w / 2, a.y + a.h / 2)
      for (const line of g.children) attrs(line, { x1: p1.x.toFixed(1), y1: p1.y.toFixed(1), x2: p2.x.toFixed(1), y2: p2.y.toFixed(1) })
      const selected = this.selected?.type === 'edge' && this.selected.id === id
      attrs(g.querySelector('.edge'), { 'marker-end': selected ? 'url(#arrowhead-sel)' : 'url(#arrowhead)' })
      attrs(g, {
        class: `edge-g${selected ? ' selected' : ''}`, 'data-from': m.get('from'), 'data-to': m.get('to'),
        'aria-label': `Arrow from ${a.text || KIND_LABEL[a.kind]} to ${b.text || KIND_LABEL[b.kind]}`
      })
    }
    for (const [id, g] of this.edgeEls) if (!seen.has(id)) { g.remove(); this.edgeEls.delete(id) }

    // the canvas grows with its content; the wrap scrolls
    let maxX = 0
    let maxY = 0
    for (const sh of shapes.values()) { maxX = Math.max(maxX, sh.x + sh.w); maxY = Math.max(maxY, sh.y + sh.h) }
    attrs(this.svg, { width: Math.ceil(maxX + 240), height: Math.ceil(maxY + 200) })
    this.empty.hidden = shapes.size > 0
    this.updateChrome()
  }

  renderPointers () {
    const states = this.room.awareness.getStates()
    const seen = new Set()
    for (const [clientId, st] of states) {
      if (clientId === this.room.doc.clientID || !st?.pointer || !st.user || st.tab !== 'diagram') continue
      const { x, y } = st.pointer
      if (typeof x !== 'number' || typeof y !== 'number') continue
      seen.add(clientId)
      let g = this.pointerEls.get(clientId)
      const color = /^#[0-9a-f]{6}$/i.test(st.user.color) ? st.user.color : '#64748b'
      const name = String(st.user.name || 'Someone').slice(0, 40)
      if (!g) {
        g = s('g', { class: 'pointer', 'data-client': clientId },
          s('path', { d: 'M0 0L0 16L4.5 12L7.5 19L10 18L7 11L13 11Z', stroke: '#fff', 'stroke-width': 1.2 }),
          s('g', { class: 'pointer-tag', transform: 'translate(12 18)' }, s('rect', { rx: 4, height: 18 }), s('text', { x: 6, y: 13 })))
        this.pointerEls.set(clientId, g)
        this.pointerLayer.append(g)
      }
      attrs(g, { transform: `translate(${x} ${y})`, 'data-name': name })
      attrs(g.querySelector('path'), { fill: color })
      const text = g.querySelector('text')
      if (text.textContent !== name) text.textContent = name
      attrs(g.querySelector('rect'), { fill: color, width: 12 + name.length * 6.6 })
    }
    for (const [id, g] of this.pointerEls) if (!seen.has(id)) { g.remove(); this.pointerEls.delete(id) }
    // remote selections are drawn with the shapes
    this.render()
  }
}
