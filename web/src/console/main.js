// The operator's console at /console (and /console/rooms/{room}): live counters and charts, the
// rooms table, and a room page with its connections, awareness, document tree and versions.
import './console.css'
import { h, clear, formatBytes, formatTime, formatAgo } from '../shared/dom.js'
import { logoMark } from '../shared/logo.js'
import { api, ApiError, getToken, setToken, roomPath } from './api.js'
import { sparkline } from './charts.js'
import { jsonTree } from './jsontree.js'

const POLL_MS = 1500
const HISTORY = 40 // samples kept per chart: one minute at POLL_MS

const root = document.getElementById('app')
const state = {
  samples: [], // {t, c: counters}
  series: {}, // tile id -> values
  overview: null,
  rooms: [],
  sort: { key: 'connections', dir: -1 },
  filter: '',
  authError: null,
  pollTimer: 0,
  view: null,
  jsonOpen: new Set(),
  lastDocJson: ''
}

// ---------- shell ----------
const nodeInfo = h('div', { class: 'node-info' })
const toasts = h('div', { class: 'toasts', 'aria-live': 'polite' })
const main = h('main', { class: 'console-main', id: 'main' })
const signOut = h('button', { class: 'btn ghost', type: 'button', hidden: !getToken(), dataset: { action: 'sign-out' }, onClick: () => { setToken(''); signOut.hidden = true; route() } }, 'Forget token')
root.replaceChildren(h('div', { class: 'console' },
  h('header', { class: 'console-top' },
    h('a', { class: 'logo', href: '/console', dataset: { route: '' } }, logoMark(), h('span', null, 'Tandem'), h('span', { class: 'logo-sub' }, 'console')),
    nodeInfo,
    h('div', { class: 'top-actions' }, h('a', { class: 'btn ghost', href: '/' }, 'Open workspace'), signOut)),
  main, toasts))

const toast = (text, kind = 'ok') => {
  const t = h('div', { class: `toast ${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, text)
  toasts.append(t)
  setTimeout(() => t.remove(), 4000)
}

const navigate = (path) => { history.pushState(null, '', path); route() }
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-route]')
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  e.preventDefault()
  navigate(a.getAttribute('href'))
})
window.addEventListener('popstate', () => route())

// ---------- auth ----------
const authView = (err) => {
  const input = h('input', { class: 'input', id: 'admin-token', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'Admin token' })
  const forbidden = err.status === 403
  const title = forbidden ? 'The console is disabled on this server' : (getToken() ? 'The admin token was refused' : 'Admin token required')
  const explain = forbidden
    ? 'This server listens on a non-loopback address and was started without --admin-token (TANDEM_ADMIN_TOKEN), so its console is off. Restart it with an admin token, or enter one if it has been set since.'
    : 'Enter the admin token this server was started with (--admin-token or TANDEM_ADMIN_TOKEN). It is kept in this browser tab only.'
  const view = h('section', { class: 'auth card', 'data-testid': 'auth', dataset: { status: String(err.status) } },
    h('h1', null, title),
    h('p', { class: 'banner bad', role: 'alert' }, `${err.status} ${err.code}: ${err.message}`),
    h('p', null, explain),
    h('form', { class: 'auth-form', onSubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); signOut.hidden = !getToken(); route() } },
      h('label', { class: 'field-label', for: 'admin-token' }, 'Admin token'),
      h('div', { class: 'row' }, input, h('button', { class: 'btn primary', type: 'submit' }, 'Open console'))))
  main.replaceChildren(view)
  input.focus()
}

const handleError = (err, where) => {
  if (err instanceof ApiError && err.isAuth) {
    stopPolling()
    state.authError = err
    authView(err)
    return true
  }
  where?.(err)
  return false
}

// ---------- polling ----------
const stopPolling = () => { clearTimeout(state.pollTimer); state.pollTimer = 0 }
const poll = async (fn) => {
  stopPolling()
  const token = Symbol('poll')
  state.pollToken = token
  const tick = async () => {
    if (state.pollToken !== token) return
    await fn()
    if (state.pollToken !== token || state.authError) return
    state.pollTimer = setTimeout(tick, POLL_MS)
  }
  await tick()
}

// ---------- overview ----------
const TILES = [
  { id: 'connections', label: 'Connections', color: '#4f46e5', fmt: v => String(Math.round(v)), gauge: c => c.connections },
  { id: 'rooms', label: 'Rooms loaded', color: '#0891b2', fmt: v => String(Math.round(v)), gauge: c => c.roomsLoaded },
  { id: 'updates', label: 'Updates/s', color: '#059669', fmt: v => v.toFixed(v < 10 ? 1 : 0), rate: c => c.updatesApplied },
  { id: 'bytesIn', label: 'Bytes in/s', color: '#2563eb', fmt: v => `${formatBytes(v)}/s`, rate: c => c.bytesIn },
  { id: 'bytesOut', label: 'Bytes out/s', color: '#9333ea', fmt: v => `${formatBytes(v)}/s`, rate: c => c.bytesOut },
  { id: 'saveFailures', label: 'Save failures', color: '#dc2626', fmt: v => String(Math.round(v)), gauge: c => c.savesFailed },
  { id: 'latency', label: 'Store latency', color: '#d97706', fmt: v => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` }
]

const pushSample = (counters) => {
  const t = performance.now()
  const prev = state.samples[state.samples.length - 1]
  state.samples.push({ t, c: counters })
  if (state.samples.length > HISTORY) state.samples.shift()
  for (const tile of TILES) {
    let v = NaN
    if (tile.gauge) v = Number(tile.gauge(counters))
    else if (prev && tile.rate) {
      const dt = (t - prev.t) / 1000
      const dv = tile.rate(counters) - tile.rate(prev.c)
      v = dt > 0 && dv >= 0 ? dv / dt : NaN
    } else if (prev && tile.id === 'latency') {
      const saves = (counters.savesOk + counters.savesFailed) - (prev.c.savesOk + prev.c.savesFailed)
      const micros = counters.saveMicrosTotal - prev.c.saveMicrosTotal
      v = saves > 0 && micros >= 0 ? micros / saves / 1000 : NaN
    }
    const arr = state.series[tile.id] || (state.series[tile.id] = [])
    arr.push(v)
    if (arr.length > HISTORY) arr.shift()
  }
}

const lastFinite = (arr) => { for (let i = arr.length - 1; i >= 0; i--) if (Number.isFinite(arr[i])) return arr[i]; return NaN }

const renderTiles = (el) => {
  const c = state.overview?.counters || {}
  el.replaceChildren(...TILES.map(tile => {
    const values = state.series[tile.id] || []
    const now = values[values.length - 1]
    const shown = Number.isFinite(now) ? now : (tile.id === 'latency' ? lastFinite(values) : NaN)
    let sub = ''
    if (tile.id === 'saveFailures') sub = `${c.savesOk ?? 0} saves ok · ${c.roomLoadFailures ?? 0} load failures`
    else if (tile.id === 'latency') sub = Number.isFinite(now) ? 'mean of the saves in the last interval' : (Number.isFinite(shown) ? 'last measured (no saves since)' : 'no saves yet')
    else if (tile.id === 'updates') sub = `${c.updatesApplied ?? 0} applied in total`
    else if (tile.id === 'bytesIn') sub = `${formatBytes(c.bytesIn)} · ${c.messagesIn ?? 0} messages`
    else if (tile.id === 'bytesOut') sub = `${formatBytes(c.bytesOut)} · ${c.messagesOut ?? 0} messages`
    else if (tile.id === 'connections') sub = 'WebSocket clients now'
    else if (tile.id === 'rooms') sub = 'documents in memory'
    const bad = tile.id === 'saveFailures' && shown > 0
    return h('div', { class: `tile card${bad ? ' bad' : ''}`, dataset: { tile: tile.id } },
      h('div', { class: 'tile-label' }, tile.label),
      h('div', { class: 'tile-value', dataset: { value: Number.isFinite(shown) ? String(shown) : '' } }, Number.isFinite(shown) ? tile.fmt(shown) : '–'),
      h('div', { class: 'tile-sub' }, sub),
      sparkline(values, { color: tile.color }))
  }))
}

const COLUMNS = [
  { key: 'id', label: 'Room', get: r => r.id, num: false },
  { key: 'connections', label: 'Connections', get: r => r.connections, num: true },
  { key: 'documentBytes', label: 'Document size', get: r => r.documentBytes, num: true },
  { key: 'updatesSinceSave', label: 'Unsaved updates', get: r => r.updatesSinceSave, num: true },
  { key: 'lastSave', label: 'Last save', get: r => r.lastSave?.time ?? -1, num: true },
  { key: 'lastError', label: 'Last error', get: r => r.lastError || '', num: false }
]

const renderRoomsTable = (wrap) => {
  const q = state.filter.trim().toLowerCase()
  const col = COLUMNS.find(c => c.key === state.sort.key) || COLUMNS[1]
  const rows = state.rooms
    .filter(r => !q || r.id.toLowerCase().includes(q) || (r.lastError || '').toLowerCase().includes(q))
    .sort((a, b) => {
      const x = col.get(a)
      const y = col.get(b)
      const c = col.num ? x - y : String(x).localeCompare(String(y))
      return (c || a.id.localeCompare(b.id)) * state.sort.dir
    })
  const head = h('tr', null, COLUMNS.map(c => {
    const active = c.key === state.sort.key
    return h('th', { scope: 'col', 'aria-sort': active ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none', class: c.num ? 'num' : '' },
      h('button', {
        class: 'sort', type: 'button', dataset: { sort: c.key },
        onClick: () => {
          state.sort = active ? { key: c.key, dir: -state.sort.dir } : { key: c.key, dir: c.num ? -1 : 1 }
          renderRoomsTable(wrap)
          wrap.querySelector(`[data-sort="${c.key}"]`)?.focus()
        }
      }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.sort.dir > 0 ? '▲' : '▼') : '')))
  }))
  const now = Date.now()
  const body = rows.length
    ? rows.map(r => h('tr', { dataset: { room: r.id } },
      h('td', null, h('a', { href: `/console${roomPath(r.id)}`, dataset: { route: '' }, class: 'room-link' }, r.id)),
      h('td', { class: 'num' }, String(r.connections)),
      h('td', { class: 'num' }, formatBytes(r.documentBytes)),
      h('td', { class: 'num' }, String(r.updatesSinceSave), r.unsavedSinceMs ? h('span', { class: 'muted' }, ` · ${formatAgo(r.unsavedSinceMs, now)}`) : null),
      h('td', null, r.lastSave
        ? h('span', { class: 'save-cell', title: formatTime(r.lastSave.time) }, h('span', { class: `badge ${r.lastSave.ok ? 'ok' : 'bad'}` }, r.lastSave.ok ? 'ok' : 'failed'), ` ${formatAgo(r.lastSave.time, now)}`, !r.lastSave.ok && r.lastSave.error ? h('span', { class: 'muted' }, ` · ${r.lastSave.error}`) : null)
        : h('span', { class: 'muted' }, 'never')),
      h('td', { class: r.lastError ? 'err' : 'muted' }, r.lastError || '–')))
    : [h('tr', null, h('td', { colSpan: COLUMNS.length, class: 'empty' }, state.rooms.length ? 'No room matches the filter.' : 'No rooms loaded. Rooms appear here when someone opens them.'))]
  wrap.replaceChildren(h('table', { class: 'table rooms-table' }, h('thead', null, head), h('tbody', null, body)))
}

const overviewView = async () => {
  const tiles = h('div', { class: 'tiles' })
  const filter = h('input', { class: 'input', type: 'search', placeholder: 'Filter rooms…', 'aria-label': 'Filter rooms', value: state.filter })
  const tableWrap = h('div', { class: 'table-wrap card' })
  const err = h('div', { class: 'banner bad', hidden: true, role: 'alert' })
  filter.addEventListener('input', () => { state.filter = filter.value; renderRoomsTable(tableWrap) })
  main.replaceChildren(
    h('h1', { class: 'page-title' }, 'Overview'),
    err, tiles,
    h('section', { class: 'rooms-section' },
      h('div', { class: 'section-head' }, h('h2', null, 'Rooms'), h('span', { class: 'room-count muted' }), filter),
      tableWrap))
  renderTiles(tiles)
  renderRoomsTable(tableWrap)
  await poll(async () => {
    try {
      const [ov, rooms] = await Promise.all([api('/overview'), api('/rooms')])
      state.authError = null
      state.overview = ov
      state.rooms = rooms.rooms || []
      pushSample(ov.counters)
      err.hidden = true
      renderNode()
      renderTiles(tiles)
      main.querySelector('.room-count').textContent = `${state.rooms.length} loaded`
      renderRoomsTable(tableWrap)
    } catch (e) {
      handleError(e, (x) => { err.hidden = false; err.textContent = `Could not refresh: ${x.message}` })
    }
  })
}

const renderNode = () => {
  const o = state.overview
  if (!o) return
  const up = o.uptimeSeconds
  const upText = up < 120 ? `${Math.round(up)} s` : up < 7200 ? `${Math.round(up / 60)} min` : up < 172800 ? `${(up / 3600).toFixed(1)} h` : `${Math.round(up / 86400)} d`
  nodeInfo.replaceChildren(h('span', { class: 'badge' }, h('span', { class: 'dot', style: { color: '#16a34a' } }), `node ${o.node}`), h('span', { class: 'muted' }, `v${o.version} · up ${upText}`))
}

// ---------- room page ----------
const confirmDialog = ({ title, text, action }) => new Promise((resolve) => {
  const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'dlg-title' },
    h('h2', { id: 'dlg-title' }, title), h('p', null, text),
    h('form', { method: 'dialog', class: 'actions' },
      h('button', { class: 'btn', value: 'cancel', type: 'submit' }, 'Cancel'),
      h('button', { class: 'btn primary', value: 'ok', type: 'submit', dataset: { action: 'confirm' } }, action)))
  document.body.append(dlg)
  dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok'); dlg.remove() })
  dlg.showModal()
  dlg.querySelector('[value=cancel]').focus()
})

const roomView = async (room) => {
  state.jsonOpen = new Set()
  state.lastDocJson = ''
  const err = h('div', { class: 'banner bad', hidden: true, role: 'alert' })
  const summary = h('div', { class: 'room-summary' })
  const conns = h('div', { class: 'card pad' })
  const aware = h('div', { class: 'card pad' })
  const tree = h('div', { class: 'json-tree', 'data-testid': 'document-tree' })
  const versions = h('div', { class: 'card' })
  const saveBtn = h('button', {
    class: 'btn primary', type: 'button', dataset: { action: 'save-now' },
    onClick: async () => {
      saveBtn.disabled = true
      try { await api(`${roomPath(room)}/save`, { method: 'POST', body: {} }); toast('Saved to the snapshot store.'); await loadVersions() } catch (e) { if (!handleError(e)) toast(`Save failed: ${e.message}`, 'bad') } finally { saveBtn.disabled = false }
    }
  }, 'Save now')
  main.replaceChildren(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/console', dataset: { route: '' } }, '← All rooms')),
    h('div', { class: 'room-head' },
      h('h1', { class: 'page-title' }, h('span', { class: 'muted' }, 'Room '), h('span', { class: 'room-title' }, room)),
      h('div', { class: 'room-actions' }, h('a', { class: 'btn', href: `/w/${encodeURIComponent(room)}`, target: '_blank', rel: 'noopener' }, 'Open in workspace'), saveBtn)),
    err, summary,
    h('div', { class: 'two-col' },
      h('section', null, h('h2', null, 'Connections'), conns),
      h('section', null, h('h2', null, 'Awareness'), aware)),
    h('section', null, h('h2', null, 'Document'), h('div', { class: 'card pad' }, tree)),
    h('section', null, h('h2', null, 'Snapshot versions'), versions))

  const loadVersions = async () => {
    try {
      const v = await api(`${roomPath(room)}/versions`)
      renderVersions(v.versions || [])
    } catch (e) {
      if (handleError(e)) return
      versions.replaceChildren(h('div', { class: 'pad' }, h('p', { class: 'banner bad', role: 'alert' },
        e.status === 502 || e.status === 503 ? `The snapshot store is not answering (${e.status}): ${e.message}` : e.status === 404 ? 'No versions: this room has never been saved.' : `Could not list versions: ${e.message}`)))
    }
  }

  const renderVersions = (list) => {
    if (!list.length) { versions.replaceChildren(h('p', { class: 'pad muted' }, 'No snapshot versions yet. “Save now” writes one.')); return }
    versions.replaceChildren(h('table', { class: 'table versions-table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'num' }, 'Version'), h('th', { scope: 'col' }, 'Saved'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'Checksum'), h('th', { scope: 'col' }, ''))),
      h('tbody', null, list.map((v, i) => h('tr', { dataset: { version: String(v.version) } },
        h('td', { class: 'num' }, h('strong', null, `v${v.version}`), i === 0 ? h('span', { class: 'badge ok latest' }, 'latest') : null, v.merged ? h('span', { class: 'badge warn', title: 'The store merged this save with what it had' }, 'merged') : null),
        h('td', { title: new Date(v.time).toISOString() }, formatTime(v.time), h('span', { class: 'muted' }, ` · ${formatAgo(v.time)}`)),
        h('td', { class: 'num' }, formatBytes(v.size)),
        h('td', { class: 'mono muted', title: v.checksum }, String(v.checksum || '').slice(0, 12)),
        h('td', { class: 'actions-cell' }, h('button', {
          class: 'btn', type: 'button', dataset: { action: 'restore', version: String(v.version) },
          onClick: async (e) => {
            const ok = await confirmDialog({
              title: `Restore version ${v.version}?`,
              text: `The room's content becomes that of version ${v.version} (saved ${formatTime(v.time)}). Everyone connected sees it at once. The current content stays in the version history.`,
              action: 'Restore'
            })
            if (!ok) { e.target.focus(); return }
            try {
              const r = await api(`${roomPath(room)}/restore`, { method: 'POST', body: { version: v.version } })
              toast(`Restored version ${r.restoredVersion}.`)
              await Promise.all([loadVersions(), refresh()])
            } catch (x) { if (!handleError(x)) toast(`Restore failed: ${x.message}`, 'bad') }
          }
        }, 'Restore')))))))
  }

  const renderDetail = (d) => {
    summary.replaceChildren(
      h('div', { class: 'stat' }, h('span', null, 'State'), h('strong', null, d.loaded ? 'loaded' : 'not loaded')),
      h('div', { class: 'stat' }, h('span', null, 'Connections'), h('strong', { 'data-testid': 'connection-count' }, String(d.connections?.length ?? 0))),
      h('div', { class: 'stat' }, h('span', null, 'Document size'), h('strong', null, formatBytes(d.documentBytes))),
      h('div', { class: 'stat' }, h('span', null, 'Clients in state vector'), h('strong', null, String(Object.keys(d.stateVector || {}).length))))
    conns.replaceChildren(d.connections?.length
      ? h('table', { class: 'table compact connections-table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Access'))),
        h('tbody', null, d.connections.map(c => h('tr', { dataset: { connection: String(c.id) } }, h('td', { class: 'mono' }, String(c.id)), h('td', null, c.user || h('span', { class: 'muted' }, 'anonymous')), h('td', null, c.readOnly ? h('span', { class: 'badge warn' }, 'read-only') : h('span', { class: 'badge ok' }, 'write'))))))
      : h('p', { class: 'muted' }, 'No connections.'))
    aware.replaceChildren(d.awareness?.length
      ? h('ul', { class: 'aware-list' }, d.awareness.map(a => {
        const u = a.state?.user
        const color = /^#[0-9a-f]{6}$/i.test(u?.color || '') ? u.color : '#94a3b8'
        const rest = { ...(a.state || {}) }
        delete rest.user
        return h('li', { dataset: { client: String(a.clientId) } },
          h('span', { class: 'chip', style: { background: color } }),
          h('strong', null, u?.name || 'no name'), h('span', { class: 'muted mono' }, ` #${a.clientId}`),
          Object.keys(rest).length ? h('code', { class: 'aware-state' }, JSON.stringify(rest)) : null)
      }))
      : h('p', { class: 'muted' }, 'No awareness states.'))
    const docJson = JSON.stringify(d.document ?? null)
    if (docJson !== state.lastDocJson) {
      state.lastDocJson = docJson
      tree.replaceChildren(jsonTree(d.document ?? {}, { open: state.jsonOpen }))
    }
  }

  const refresh = async () => {
    try {
      const d = await api(roomPath(room))
      state.authError = null
      err.hidden = true
      renderDetail(d)
    } catch (e) {
      handleError(e, (x) => {
        err.hidden = false
        err.textContent = x.status === 404 ? 'This room is not loaded on this server (nobody is connected, or it was unloaded). Its snapshot versions are below.' : `Could not refresh: ${x.message}`
      })
    }
  }

  await loadVersions()
  if (state.authError) return
  let n = 0
  await poll(async () => {
    await refresh()
    if (++n % 4 === 0 && !state.authError) await loadVersions()
  })
}

// ---------- router ----------
const route = async () => {
  stopPolling()
  state.pollToken = null
  state.authError = null
  const p = location.pathname
  const m = p.match(/^\/console\/rooms\/([^/]+)\/?$/)
  if (m) {
    let room
    try { room = decodeURIComponent(m[1]) } catch { room = m[1] }
    document.title = `${room} · Tandem console`
    await roomView(room)
  } else {
    document.title = 'Tandem console'
    await overviewView()
  }
}

window.tandemConsole = { state, navigate }
clear(main)
route()
