// The tasks resource: root Y.Array `tasks` of Y.Map {id, title, done, assignee, due}. Add, edit
// inline, toggle, reorder by dragging the grip (or Alt+↑/↓), delete. Local changes are
// transactions with TASKS_ORIGIN, tracked by the list's own Y.UndoManager.
import * as Y from 'yjs'
import { h, randomId } from '../shared/dom.js'
import { TASKS_ORIGIN } from './room.js'
import { icon } from './icons.js'

const str = (v) => (typeof v === 'string' ? v : '')

export class TasksPanel {
  constructor (room, { onUndoChange }) {
    this.room = room
    this.tasks = room.tasks
    this.rows = new WeakMap() // Y.Map -> row element (a moved task is a new Y.Map)
    this.drag = null
    this.undoManager = new Y.UndoManager(this.tasks, { trackedOrigins: new Set([TASKS_ORIGIN]), captureTimeout: 400 })
    for (const ev of ['stack-item-added', 'stack-item-popped', 'stack-cleared']) this.undoManager.on(ev, () => onUndoChange?.())

    this.newTitle = h('input', { class: 'input grow', type: 'text', placeholder: 'Add a task…', 'aria-label': 'New task title', name: 'title', autocomplete: 'off' })
    this.addForm = h('form', { class: 'task-add', onSubmit: (e) => { e.preventDefault(); this.add() } },
      this.newTitle, h('button', { class: 'btn primary', type: 'submit' }, icon('plus'), 'Add task'))
    this.list = h('ul', { class: 'task-list', 'aria-label': 'Tasks' })
    this.summary = h('div', { class: 'task-summary', 'aria-live': 'polite' })
    this.people = h('datalist', { id: 'people' })
    this.emptyNote = h('li', { class: 'task-empty' }, 'No tasks yet. Add one above; drag the grip to reorder.')
    this.el = h('section', { class: 'panel tasks-panel', id: 'panel-tasks', role: 'tabpanel', 'aria-labelledby': 'tab-tasks' },
      h('div', { class: 'tasks-inner' },
        h('div', { class: 'tasks-head' }, h('h2', null, 'Tasks'), this.summary),
        this.addForm,
        h('div', { class: 'task-cols', 'aria-hidden': 'true' }, h('span'), h('span'), h('span', null, 'Title'), h('span', null, 'Assignee'), h('span', null, 'Due'), h('span')),
        this.list, this.people))

    this.tasks.observeDeep(() => this.render())
    room.awareness.on('change', () => this.renderPeople())
    this.render()
    this.renderPeople()
  }

  canUndo () { return this.undoManager.undoStack.length > 0 }
  canRedo () { return this.undoManager.redoStack.length > 0 }
  undo () { this.undoManager.undo() }
  redo () { this.undoManager.redo() }
  focus () { this.newTitle.focus() }

  transact (fn) { this.room.doc.transact(fn, TASKS_ORIGIN) }

  add () {
    const title = this.newTitle.value.trim()
    if (!title) { this.newTitle.focus(); return }
    this.undoManager.stopCapturing()
    this.transact(() => {
      const m = new Y.Map()
      m.set('id', randomId(8))
      m.set('title', title)
      m.set('done', false)
      m.set('assignee', '')
      m.set('due', null)
      this.tasks.push([m])
    })
    this.undoManager.stopCapturing()
    this.newTitle.value = ''
    this.newTitle.focus()
  }

  indexOf (m) { return this.tasks.toArray().indexOf(m) }

  set (m, key, value) {
    if (m.get(key) === value) return
    this.undoManager.stopCapturing()
    this.transact(() => m.set(key, value))
  }

  remove (m) {
    const i = this.indexOf(m)
    if (i < 0) return
    const next = this.list.children[i + 1] || this.list.children[i - 1]
    this.undoManager.stopCapturing()
    this.transact(() => this.tasks.delete(i, 1))
    ;(next?.querySelector('.delete') || this.newTitle).focus()
  }

  // Moves the task at `from` to index `to` (an index among the other tasks). Y types cannot be
  // moved: the task is deleted and a copy with the same id inserted.
  move (from, to) {
    if (from === to || from < 0) return null
    let copy = null
    this.undoManager.stopCapturing()
    this.transact(() => {
      const m = this.tasks.get(from)
      if (!(m instanceof Y.Map)) return
      const data = m.toJSON()
      this.tasks.delete(from, 1)
      copy = new Y.Map()
      for (const k of ['id', 'title', 'done', 'assignee', 'due']) if (k in data) copy.set(k, data[k])
      this.tasks.insert(Math.max(0, Math.min(to, this.tasks.length)), [copy])
    })
    this.undoManager.stopCapturing()
    return copy
  }

  makeRow (m) {
    const grip = h('button', { class: 'grip', type: 'button', title: 'Drag to reorder (or Alt+↑/↓)', 'aria-label': 'Reorder task' }, icon('grip'))
    const done = h('input', { class: 'done', type: 'checkbox', 'aria-label': 'Done' })
    const title = h('input', { class: 'title', type: 'text', 'aria-label': 'Title', autocomplete: 'off' })
    const assignee = h('input', { class: 'assignee', type: 'text', list: 'people', placeholder: 'Unassigned', 'aria-label': 'Assignee', autocomplete: 'off' })
    const due = h('input', { class: 'due', type: 'date', 'aria-label': 'Due date' })
    const del = h('button', { class: 'btn ghost icon delete', type: 'button', title: 'Delete task', 'aria-label': 'Delete task' }, icon('trash', 16))
    const row = h('li', { class: 'task' }, grip, done, title, assignee, due, del)
    row._m = m

    done.addEventListener('change', () => this.set(row._m, 'done', done.checked))
    const commitText = (input, key) => {
      let timer = 0
      input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => this.set(row._m, key, input.value), 300) })
      input.addEventListener('change', () => { clearTimeout(timer); this.set(row._m, key, input.value) })
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); this.set(row._m, key, input.value); input.blur() }
        if (e.key === 'Escape') { e.preventDefault(); clearTimeout(timer); input.value = str(row._m.get(key)); input.blur() }
      })
      input.addEventListener('blur', () => { clearTimeout(timer); this.set(row._m, key, input.value); this.render() })
    }
    commitText(title, 'title')
    commitText(assignee, 'assignee')
    due.addEventListener('change', () => this.set(row._m, 'due', due.value || null))
    del.addEventListener('click', () => this.remove(row._m))
    row.addEventListener('keydown', (e) => {
      const dir = e.key === 'ArrowUp' ? -1 : e.key === 'ArrowDown' ? 1 : 0
      if (!dir || !(e.altKey || e.target === grip)) return
      e.preventDefault()
      const i = this.indexOf(row._m)
      const to = i + dir
      if (i < 0 || to < 0 || to >= this.tasks.length) return
      const cls = e.target.classList[0]
      const copy = this.move(i, to)
      const nr = copy && this.rows.get(copy)
      nr?.querySelector(`.${cls}`)?.focus()
    })
    grip.addEventListener('pointerdown', (e) => this.startDrag(e, row))
    return row
  }

  fill (row) {
    const m = row._m
    const d = { title: str(m.get('title')), done: m.get('done') === true, assignee: str(m.get('assignee')), due: str(m.get('due')) }
    const [, done, title, assignee, due] = row.children
    row.dataset.id = str(m.get('id'))
    row.classList.toggle('is-done', d.done)
    done.checked = d.done
    if (document.activeElement !== title && title.value !== d.title) title.value = d.title
    if (document.activeElement !== assignee && assignee.value !== d.assignee) assignee.value = d.assignee
    if (document.activeElement !== due && due.value !== d.due) due.value = d.due
  }

  render () {
    if (this.drag) { this.dirty = true; return }
    const items = this.tasks.toArray().filter(m => m instanceof Y.Map)
    const keep = new Set()
    let prev = null
    for (const m of items) {
      let row = this.rows.get(m)
      if (!row) { row = this.makeRow(m); this.rows.set(m, row) }
      keep.add(row)
      this.fill(row)
      const want = prev ? prev.nextSibling : this.list.firstChild
      if (want !== row) this.list.insertBefore(row, want)
      prev = row
    }
    for (const child of Array.from(this.list.children)) if (!keep.has(child)) child.remove()
    if (items.length === 0) this.list.append(this.emptyNote)
    const open = items.filter(m => m.get('done') !== true).length
    this.summary.textContent = items.length ? `${open} open · ${items.length - open} done` : ''
  }

  renderPeople () {
    const names = new Set()
    for (const st of this.room.awareness.getStates().values()) if (st?.user?.name) names.add(String(st.user.name))
    this.people.replaceChildren(...Array.from(names).sort().map(n => h('option', { value: n })))
  }

  startDrag (e, row) {
    if (e.button !== 0) return
    e.preventDefault()
    const rows = Array.from(this.list.querySelectorAll('.task'))
    const from = rows.indexOf(row)
    if (from < 0) return
    const rects = rows.map(r => r.getBoundingClientRect())
    const step = rects.length > 1 ? rects[1].top - rects[0].top : rects[0].height + 6
    this.drag = { row, rows, rects, from, to: from, startY: e.clientY, step }
    row.classList.add('dragging')
    this.list.classList.add('reordering')
    row.querySelector('.grip').focus({ preventScroll: true })
    const move = (ev) => {
      const d = this.drag
      if (!d) return
      const dy = ev.clientY - d.startY
      d.row.style.transform = `translateY(${dy}px)`
      const centre = d.rects[d.from].top + d.rects[d.from].height / 2 + dy
      let to = 0
      d.rows.forEach((r, i) => {
        if (i === d.from) return
        const mid = d.rects[i].top + d.rects[i].height / 2
        if (mid < centre) to++
      })
      d.to = to
      d.rows.forEach((r, i) => {
        if (i === d.from) return
        let shift = 0
        if (i > d.from && i <= to) shift = -d.step
        if (i < d.from && i >= to) shift = d.step
        r.style.transform = shift ? `translateY(${shift}px)` : ''
      })
    }
    const up = () => {
      document.removeEventListener('pointermove', move)
      document.removeEventListener('pointerup', up)
      document.removeEventListener('pointercancel', up)
      const d = this.drag
      this.drag = null
      this.list.classList.remove('reordering')
      for (const r of d.rows) { r.style.transform = ''; r.classList.remove('dragging') }
      let copy = null
      if (d.to !== d.from) {
        // the task may have moved meanwhile (a remote change): move it from where it is now
        copy = this.move(this.indexOf(row._m), d.to)
      }
      this.render()
      const nr = copy && this.rows.get(copy)
      nr?.querySelector('.grip')?.focus({ preventScroll: true })
    }
    document.addEventListener('pointermove', move)
    document.addEventListener('pointerup', up)
    document.addEventListener('pointercancel', up)
  }
}
