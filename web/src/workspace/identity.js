// The local user's name and colour, kept in localStorage so they survive reloads.
import { randomId } from '../shared/dom.js'

export const COLORS = ['#e11d48', '#db2777', '#9333ea', '#4f46e5', '#2563eb', '#0891b2', '#059669', '#65a30d', '#d97706', '#ea580c']

const read = (key) => { try { return localStorage.getItem(key) } catch { return null } }
const write = (key, v) => { try { localStorage.setItem(key, v) } catch { /* private mode */ } }

const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Fox', 'Panda', 'Koala', 'Falcon', 'Badger', 'Marten', 'Ibex', 'Puffin', 'Gecko']

export const loadIdentity = () => {
  let name = read('tandem.name')
  if (!name) {
    const n = parseInt(randomId(2), 16)
    name = `${ANIMALS[n % ANIMALS.length]} ${100 + (n % 900)}`
    write('tandem.name', name)
  }
  let color = read('tandem.color')
  if (!color || !/^#[0-9a-f]{6}$/i.test(color)) {
    color = COLORS[parseInt(randomId(1), 16) % COLORS.length]
    write('tandem.color', color)
  }
  return { name, color }
}

export const saveIdentity = ({ name, color }) => {
  if (name) write('tandem.name', name)
  if (color) write('tandem.color', color)
}

export const recentRooms = () => {
  try { return JSON.parse(read('tandem.recentRooms') || '[]').filter(r => typeof r === 'string').slice(0, 8) } catch { return [] }
}

export const rememberRoom = (room) => {
  const list = [room, ...recentRooms().filter(r => r !== room)].slice(0, 8)
  write('tandem.recentRooms', JSON.stringify(list))
}

export const initials = (name) => {
  const words = String(name || '').trim().split(/\s+/).filter(w => /^\p{L}/u.test(w))
  if (words.length >= 2) return (Array.from(words[0])[0] + Array.from(words[1])[0]).toUpperCase()
  const w = words[0] || String(name || '?').trim() || '?'
  return Array.from(w).slice(0, 2).join('').toUpperCase()
}
