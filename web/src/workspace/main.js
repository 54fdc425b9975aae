// Entry of the workspace page (served at / and /w/{room}).
import './workspace.css'
import { renderLanding } from './landing.js'
import { Workspace } from './workspace.js'

const root = document.getElementById('app')
const m = location.pathname.match(/^\/w\/([^/]+)\/?$/)
let room = null
if (m) {
  try { room = decodeURIComponent(m[1]) } catch { room = null }
}
if (room) new Workspace(root, room) // eslint-disable-line no-new
else renderLanding(root)
