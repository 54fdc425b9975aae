// Tiny DOM helpers shared by the workspace and the console (no framework).

const SVG_NS = 'http://www.w3.org/2000/svg'

const setProps = (el, props) => {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.setAttribute('class', v)
    else if (k === 'style' && typeof v === 'object') for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk.startsWith('--') ? sk : sk.replace(/[A-Z]/g, c => '-' + c.toLowerCase()), sv)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
}

const append = (el, children) => {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

// h('button', {class: 'x', onClick}, 'text', child, [more]) -> HTMLElement
export const h = (tag, props, ...children) => {
  const el = document.createElement(tag)
  setProps(el, props)
  append(el, children)
  return el
}

// s('rect', {x: 1}) -> SVGElement
export const s = (tag, props, ...children) => {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

export const attrs = (el, props) => {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) el.removeAttribute(k)
    else el.setAttribute(k, String(v))
  }
  return el
}

export const clear = (el) => { while (el.firstChild) el.firstChild.remove(); return el }

// Random id from the platform's CSPRNG (crypto.randomUUID needs a secure context; this does not).
export const randomId = (bytes = 8) => {
  const a = new Uint8Array(bytes)
  crypto.getRandomValues(a)
  return Array.from(a, b => b.toString(16).padStart(2, '0')).join('')
}

export const formatBytes = (n) => {
  if (n === null || n === undefined || Number.isNaN(n)) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  let v = n
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export const formatTime = (ms) => {
  if (ms === null || ms === undefined) return '–'
  const d = new Date(ms)
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

export const formatAgo = (ms, now = Date.now()) => {
  if (ms === null || ms === undefined) return '–'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

export const isMac = () => /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)

// True when a key event happens inside a text field, where the browser's own editing keys apply.
export const inTextField = (target) => {
  if (!(target instanceof Element)) return false
  if (target.closest('[contenteditable="true"], .ProseMirror')) return true
  const tag = target.tagName
  if (tag === 'TEXTAREA') return true
  if (tag === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'range', 'color'].includes(target.type)
  return false
}
