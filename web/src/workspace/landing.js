// The landing page at `/`: open a room by name, create one, or reopen a recent one.
import { h, randomId } from '../shared/dom.js'
import { logoMark } from '../shared/logo.js'
import { icon } from './icons.js'
import { recentRooms } from './identity.js'

export const roomHref = (room, { keepQuery = true } = {}) => {
  const token = keepQuery ? new URLSearchParams(location.search).get('token') : null
  return `/w/${encodeURIComponent(room)}${token ? `?token=${encodeURIComponent(token)}` : ''}`
}

const ADJ = ['bright', 'calm', 'brisk', 'clever', 'eager', 'gentle', 'lucky', 'merry', 'quiet', 'swift']
const NOUN = ['river', 'meadow', 'harbor', 'summit', 'forest', 'canyon', 'island', 'garden', 'valley', 'orchard']

export const newRoomName = () => {
  const b = new Uint8Array(2)
  crypto.getRandomValues(b)
  return `${ADJ[b[0] % ADJ.length]}-${NOUN[b[1] % NOUN.length]}-${randomId(2)}`
}

export const renderLanding = (root) => {
  document.title = 'Tandem'
  const input = h('input', { class: 'input big', id: 'room-name', type: 'text', placeholder: 'e.g. team-roadmap', autocomplete: 'off', maxLength: 200, 'aria-describedby': 'room-help', required: true })
  const error = h('p', { class: 'field-error', role: 'alert' })
  const open = (name) => {
    const room = String(name || '').trim()
    if (!room) { error.textContent = 'Enter a room name.'; input.focus(); return }
    if (room.includes('/')) { error.textContent = 'A room name cannot contain “/”.'; input.focus(); return }
    location.assign(roomHref(room))
  }
  const recent = recentRooms()
  root.replaceChildren(h('div', { class: 'landing' },
    h('header', { class: 'landing-top' }, h('a', { class: 'logo', href: '/' }, logoMark(), 'Tandem'), h('a', { class: 'muted-link', href: '/console' }, 'Operator console')),
    h('main', { class: 'landing-main' },
      h('div', { class: 'landing-hero' },
        h('h1', null, 'Write, sketch and plan together.'),
        h('p', { class: 'lead' }, 'A room holds a rich-text document, a diagram and a task list. Everyone with the link edits live, and the room is saved as you go.')),
      h('form', { class: 'card open-card', onSubmit: (e) => { e.preventDefault(); open(input.value) } },
        h('label', { for: 'room-name', class: 'field-label' }, 'Room name'),
        h('div', { class: 'row' }, input, h('button', { class: 'btn primary big', type: 'submit' }, 'Open room', icon('arrowRight', 16))),
        error,
        h('p', { class: 'help', id: 'room-help' }, 'Rooms are created when first opened. Share the address to invite others.'),
        h('div', { class: 'or' }, h('span', null, 'or')),
        h('button', { class: 'btn big', type: 'button', dataset: { action: 'new-room' }, onClick: () => open(newRoomName()) }, icon('plus', 16), 'Create a new room'),
        recent.length
          ? h('div', { class: 'recent' }, h('h2', null, 'Recent rooms'),
            h('ul', null, recent.map(r => h('li', null, h('a', { href: roomHref(r) }, r)))))
          : null)),
    h('footer', { class: 'landing-foot' }, 'Tandem · Yjs collaboration server')))
  input.focus()
}
