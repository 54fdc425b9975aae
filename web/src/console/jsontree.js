// A collapsible JSON tree built from <details>/<summary> (keyboard-accessible by the browser).
// `open` is a Set of paths kept open across re-renders.
import { h } from '../shared/dom.js'

const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)

const leaf = (value) => {
  const t = typeOf(value)
  if (t === 'string') return h('span', { class: 'j-str' }, JSON.stringify(value))
  return h('span', { class: `j-${t}` }, String(value))
}

const summaryOf = (v) => Array.isArray(v) ? `[${v.length}]` : `{${Object.keys(v).length}}`

export const jsonTree = (value, { open, path = '$', key = null, depth = 0 } = {}) => {
  const t = typeOf(value)
  const keyEl = key === null ? null : h('span', { class: 'j-key' }, `${key}`, h('span', { class: 'j-colon' }, ': '))
  if (t !== 'object' && t !== 'array') {
    return h('div', { class: 'j-row j-leaf', dataset: { path } }, keyEl, leaf(value))
  }
  const entries = t === 'array' ? value.map((v, i) => [i, v]) : Object.entries(value)
  const isOpen = open.has(path) || (!open.has(`!${path}`) && depth < 3)
  const details = h('details', { class: 'j-node', dataset: { path }, open: isOpen },
    h('summary', { class: 'j-row' }, keyEl, h('span', { class: 'j-meta' }, summaryOf(value))),
    h('div', { class: 'j-children' }, entries.length
      ? entries.map(([k, v]) => jsonTree(v, { open, path: `${path}/${k}`, key: k, depth: depth + 1 }))
      : h('div', { class: 'j-row j-empty' }, t === 'array' ? 'empty array' : 'empty object')))
  details.addEventListener('toggle', (e) => {
    e.stopPropagation()
    if (details.open) { open.add(path); open.delete(`!${path}`) } else { open.delete(path); open.add(`!${path}`) }
  })
  return details
}
