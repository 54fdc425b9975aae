// Browser tests of the workspace and the console: playwright-core driving Debian's chromium
// (headless) against the real `tandem serve` (TANDEM_TANDEM, started by the interop harness's
// TandemServer).
//
// Environment:
//   TANDEM_TANDEM          the tandem binary (ctest sets it)
//   TANDEM_BROWSER_PAGES   where the pages come from: "tandem" (default: tandem's own port serves
//                          /, /w/*, /console*, /assets/* and /console/api/*) or "dev" (web/dev-server.mjs
//                          serves the pages and a mock console API and passes WebSockets through to
//                          tandem; for a tandem that does not serve the front end yet)
//   TANDEM_WEB_DIST        with "dev": a built web/ (node web/build.mjs --out DIR); built on demand otherwise
//   TANDEM_CHROMIUM        the browser (default /usr/bin/chromium)
//   TANDEM_ARTIFACTS_DIR   where a failing test's screenshots go (default: a temp folder)
//   TANDEM_BROWSER_HEADED  set to 1 to watch (needs a display)
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { TandemServer, tempDir, sleep, waitFor } from '../interop/server_harness.mjs'

export { sleep, waitFor, tempDir }

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, '../..')
export const ADMIN_TOKEN = 'admin-token-for-tests'
export const PAGES = process.env.TANDEM_BROWSER_PAGES || 'tandem'
export const CHROMIUM = process.env.TANDEM_CHROMIUM || '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// Default timeout of waits in these tests (a 2-core machine running other tests in parallel).
export const WAIT_MS = 15000

let artifactsDir = null
const artifacts = () => {
  if (!artifactsDir) {
    artifactsDir = process.env.TANDEM_ARTIFACTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-browser-artifacts-'))
    fs.mkdirSync(artifactsDir, { recursive: true })
  }
  return artifactsDir
}

let builtDist = null
const webDist = () => {
  if (process.env.TANDEM_WEB_DIST) return process.env.TANDEM_WEB_DIST
  if (!builtDist) {
    builtDist = tempDir('tandem-web-dist-')
    execFileSync(process.execPath, [path.join(repoRoot, 'web/build.mjs'), '--out', builtDist, '--quiet'], { stdio: 'inherit' })
  }
  return builtDist
}

// A TCP pass-through in front of the pages' origin, for one browser context: switching it off
// cuts that context's WebSocket for real and refuses its reconnects, as a lost network would.
export class NetworkSwitch {
  static async start (targetPort) {
    const sw = new NetworkSwitch()
    sw.offline = false
    sw.sockets = new Set()
    sw.server = net.createServer((client) => {
      if (sw.offline) { client.destroy(); return }
      const upstream = net.connect(targetPort, '127.0.0.1')
      const pair = [client, upstream]
      for (const s of pair) { sw.sockets.add(s); s.on('error', () => {}); s.on('close', () => { for (const x of pair) { x.destroy(); sw.sockets.delete(x) } }) }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise((resolve, reject) => { sw.server.once('error', reject); sw.server.listen(0, '127.0.0.1', resolve) })
    sw.port = sw.server.address().port
    return sw
  }

  get origin () { return `http://127.0.0.1:${this.port}` }

  setOffline (offline) {
    this.offline = offline
    if (offline) for (const s of this.sockets) s.destroy()
  }

  close () {
    this.setOffline(true)
    return new Promise(resolve => this.server.close(resolve))
  }
}

// web/dev-server.mjs in a child process (it loads its own yjs, which must not meet the interop
// harness's copy in this process).
export class DevServer {
  static async start ({ tandem, api }) {
    const d = new DevServer()
    d.output = ''
    d.proc = spawn(process.execPath, [path.join(repoRoot, 'web/dev-server.mjs'), '--port', '0', '--dist', webDist(),
      '--tandem', tandem, '--api', api, '--admin-token', ADMIN_TOKEN, '--autosave', '600000'], { stdio: ['ignore', 'pipe', 'pipe'] })
    d.exited = new Promise(resolve => d.proc.on('exit', resolve))
    d.url = await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        d.output += chunk.toString()
        const m = d.output.match(/dev server on (http:\/\/[\d.]+:\d+)/)
        if (m) resolve(m[1])
      }
      d.proc.stdout.on('data', onData)
      d.proc.stderr.on('data', (c) => { d.output += c.toString() })
      d.proc.on('exit', (code) => reject(new Error(`dev-server.mjs exited with ${code}:\n${d.output}`)))
    })
    d.port = Number(new URL(d.url).port)
    return d
  }

  async close () {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM')
    await this.exited
  }
}

// One test file's world: a tandem server, maybe the dev server, and a browser.
export class Env {
  // serverArgs: extra `tandem serve` flags; consoleApi: with PAGES=dev, whether the dev server
  // answers the console API with its mock (the mock keeps a copy of each room, so tests of
  // durability turn it off).
  static async start ({ serverArgs = [], consoleApi = true } = {}) {
    const env = new Env()
    env.serverArgs = [...(PAGES === 'tandem' ? ['--admin-token', ADMIN_TOKEN] : []), ...serverArgs]
    env.server = await TandemServer.start({ args: env.serverArgs })
    env.consoleApi = consoleApi
    if (PAGES === 'dev') env.dev = await DevServer.start({ tandem: env.server.http, api: consoleApi ? 'mock' : 'proxy' })
    env.switches = new Set()
    env.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: process.env.TANDEM_BROWSER_HEADED !== '1',
      args: CHROMIUM_ARGS
    })
    return env
  }

  get origin () { return this.dev ? this.dev.url : this.server.http }
  get port () { return this.dev ? this.dev.port : this.server.port }

  // A browser context (one person) named `name`, with a fixed colour.
  async person (name, { color = '#2563eb', viaSwitch = false, viewport = { width: 1280, height: 820 } } = {}) {
    let origin = this.origin
    let sw = null
    if (viaSwitch) {
      sw = await NetworkSwitch.start(this.port)
      this.switches.add(sw)
      origin = sw.origin
    }
    const context = await this.browser.newContext({ viewport, baseURL: origin })
    await context.addInitScript(([n, c]) => {
      try {
        if (!localStorage.getItem('tandem.name')) { localStorage.setItem('tandem.name', n); localStorage.setItem('tandem.color', c) }
      } catch { /* about:blank has no storage */ }
    }, [name, color])
    const page = await context.newPage()
    page.on('pageerror', (e) => process.stderr.write(`[${name}] page error: ${e.stack || e.message}\n`))
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]|ERR_INTERNET_DISCONNECTED/.test(m.text())) process.stderr.write(`[${name}] console.error: ${m.text()}\n`) })
    return { name, context, page, switch: sw, origin }
  }

  // Stops the server (SIGTERM or SIGKILL) and starts it again on the same port and data.
  async restart (signal = 'SIGTERM', { beforeStart } = {}) {
    const { port, dataDir } = this.server
    const exit = await this.server.stop(signal)
    if (beforeStart) await beforeStart()
    this.server = await TandemServer.start({ port, dataDir, args: this.serverArgs })
    return exit
  }

  async stop () {
    await this.browser?.close().catch(() => {})
    for (const sw of this.switches) await sw.close()
    await this.dev?.close()
    await this.server?.stop('SIGKILL')
  }

  // Screenshots of every open page, into the artifacts folder.
  async screenshots (label) {
    const dir = artifacts()
    const safe = label.replace(/[^a-z0-9._-]+/gi, '_').slice(0, 80)
    const saved = []
    let i = 0
    for (const ctx of this.browser?.contexts() || []) {
      for (const p of ctx.pages()) {
        const file = path.join(dir, `${safe}-${i++}.png`)
        try { await p.screenshot({ path: file, fullPage: true, timeout: 5000 }); saved.push(file) } catch { /* page gone */ }
      }
    }
    return saved
  }
}

// node:test's test(), plus: on failure, a screenshot of every open page of `env()`.
export const browserTest = (name, env, fn, opts = {}) => test(name, { timeout: 180000, ...opts }, async (t) => {
  try {
    await fn(t)
  } catch (e) {
    const e2 = env()
    if (e2) {
      const files = await e2.screenshots(name)
      if (files.length) process.stderr.write(`screenshots of "${name}":\n${files.map(f => `  ${f}`).join('\n')}\n`)
      if (e2.server?.output) process.stderr.write(`tandem output:\n${e2.server.output.slice(-4000)}\n`)
    }
    throw e
  }
})

// ---------- page helpers ----------

export const roomUrl = (room, tab = 'doc') => `/w/${encodeURIComponent(room)}#${tab}`

export const syncState = (page) => page.getAttribute('[data-testid=sync]', 'data-state')

export const waitState = (page, state, timeout = WAIT_MS) =>
  page.waitForSelector(`[data-testid=sync][data-state="${state}"]`, { timeout })

export const openRoom = async (person, room, tab = 'doc') => {
  await person.page.goto(roomUrl(room, tab))
  await waitState(person.page, 'connected')
  return person.page
}

// The room's resources as a page's Y.Doc holds them.
export const docState = (page) => page.evaluate(() => {
  const d = window.tandem.doc
  return {
    document: d.getXmlFragment('document').toJSON(),
    shapes: d.getMap('shapes').toJSON(),
    edges: d.getMap('edges').toJSON(),
    tasks: d.getArray('tasks').toJSON()
  }
})

// Waits until every page holds the same document (and `check` of it passes); returns it.
export const converged = async (pages, check = () => true, what = 'the pages to converge', timeout = WAIT_MS) => {
  let last = []
  try {
    await waitFor(async () => {
      last = await Promise.all(pages.map(docState))
      for (const s of last.slice(1)) {
        try { assert.deepStrictEqual(s, last[0]) } catch { return false }
      }
      return check(last[0])
    }, what, timeout)
  } catch (e) {
    e.message += `\nlast states:\n${last.map(s => JSON.stringify(s)).join('\n')}`
    throw e
  }
  return last[0]
}

export const editorText = (page) => page.locator('.ProseMirror').innerText()

export const taskTitles = (page) => page.$$eval('.task-list .task .title', els => els.map(e => e.value))

// Drags with the real mouse from the centre of `from` (a locator) by (dx, dy).
export const dragBy = async (page, locator, dx, dy, { steps = 12 } = {}) => {
  const box = await locator.boundingBox()
  assert.ok(box, 'the element to drag is not visible')
  const x = box.x + box.width / 2
  const y = box.y + box.height / 2
  await page.mouse.move(x, y)
  await page.mouse.down()
  await page.mouse.move(x + dx, y + dy, { steps })
  await page.mouse.up()
}
