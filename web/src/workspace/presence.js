// Who is here: one avatar per awareness state that carries a user (the local user first).
import { h } from '../shared/dom.js'
import { initials } from './identity.js'

const TAB_NAMES = { doc: 'the document', diagram: 'the diagram', tasks: 'the tasks' }

export class Presence {
  constructor (room) {
    this.room = room
    this.list = h('ul', { class: 'presence', 'aria-label': 'People in this room' })
    this.count = h('span', { class: 'presence-count' })
    this.el = h('div', { class: 'presence-wrap' }, this.list, this.count)
    room.awareness.on('change', () => this.render())
    this.render()
  }

  people () {
    const own = this.room.doc.clientID
    const out = []
    for (const [clientId, st] of this.room.awareness.getStates()) {
      if (!st || !st.user || typeof st.user.name !== 'string') continue
      out.push({ clientId, self: clientId === own, name: st.user.name.slice(0, 60), color: /^#[0-9a-f]{6}$/i.test(st.user.color) ? st.user.color : '#64748b', tab: st.tab })
    }
    out.sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId)
    return out
  }

  render () {
    const people = this.people()
    const max = 5
    this.list.replaceChildren(...people.slice(0, max).map(p => h('li', {
      class: `person${p.self ? ' self' : ''}`, dataset: { client: String(p.clientId), name: p.name },
      style: { '--c': p.color }, title: `${p.name}${p.self ? ' (you)' : ''}${p.tab && TAB_NAMES[p.tab] ? ` · in ${TAB_NAMES[p.tab]}` : ''}`
    }, h('span', { 'aria-hidden': 'true' }, initials(p.name)), h('span', { class: 'visually-hidden' }, `${p.name}${p.self ? ' (you)' : ''}`))))
    if (people.length > max) this.list.append(h('li', { class: 'person more', title: people.slice(max).map(p => p.name).join(', ') }, `+${people.length - max}`))
    this.count.textContent = people.length === 1 ? 'Only you' : `${people.length} here`
  }
}
