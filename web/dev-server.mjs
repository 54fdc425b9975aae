#!/usr/bin/env node
// Development server for web/: serves the built pages the way `tandem serve` does (/, /w/{room},
// /console, /console/*, /assets/*), passes WebSocket upgrades through to a running tandem, and
// answers /console/api/* with a mock backed by that tandem (or proxies it, --api proxy).
//
//   node build.mjs && node dev-server.mjs --tandem http://127.0.0.1:8080 [--port 5173]
//        [--dist dist] [--api mock|proxy] [--admin-token T]
//
// Also used by tests/browser when TANDEM_BROWSER_PAGES=dev.
import http from 'node:http'
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MockConsoleApi } from './mock-console-api.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8'
}

// The page a GET of `pathname` gets, as tandem serves it; null when it is not a page.
export const pageFor = (pathname) => {
  if (pathname === '/' || pathname === '/index.html' || /^\/w\/[^/]+\/?$/.test(pathname)) return 'index.html'
  if (pathname === '/console' || pathname === '/console/' || (pathname.startsWith('/console/') && !pathname.startsWith('/console/api/'))) return 'console.html'
  return null
}

const roomOfPath = (pathname) => {
  const parts = pathname.split('/').filter(Boolean)
  const last = parts[0] === 'parties' ? parts[2] : parts[0]
  try { return last ? decodeURIComponent(last) : null } catch { return null }
}

export const startDevServer = async ({ port = 0, host = '127.0.0.1', dist = path.join(here, 'dist'), tandem, api = 'mock', adminToken = null, autosaveMs } = {}) => {
  if (!tandem) throw new Error('startDevServer: tandem URL missing')
  const target = new URL(tandem)
  const mock = api === 'mock' ? new MockConsoleApi({ tandem, adminToken, autosaveMs }) : null

  const proxyHttp = (req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers)
      r.pipe(res)
    })
    up.on('error', (e) => { res.writeHead(502, { 'Content-Type': 'application/json' }); res.end(JSON.stringify({ error: 'bad_gateway', message: e.message })) })
    req.pipe(up)
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    if (url.pathname.startsWith('/console/api/')) {
      if (mock) { await mock.handle(req, res, url); return }
      proxyHttp(req, res)
      return
    }
    if (['/healthz', '/readyz', '/metrics'].includes(url.pathname)) { proxyHttp(req, res); return }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { Allow: 'GET, HEAD' }); res.end(); return }
    const page = pageFor(url.pathname)
    let file = null
    if (page) file = path.join(dist, page)
    else if (url.pathname.startsWith('/assets/') && !url.pathname.includes('..')) file = path.join(dist, url.pathname)
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ error: 'not_found', message: `No page ${url.pathname}` }))
      return
    }
    const body = fs.readFileSync(file)
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': page ? 'no-cache' : 'public, max-age=31536000, immutable'
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  })

  // WebSocket upgrades: pass the bytes through to tandem unchanged.
  const sockets = new Set()
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://x')
    const room = roomOfPath(url.pathname)
    const untrack = room && mock ? mock.trackConnection(room) : () => {}
    const upstream = net.connect(Number(target.port), target.hostname)
    sockets.add(socket); sockets.add(upstream)
    let done = false
    const finish = () => {
      if (done) return
      done = true
      untrack()
      socket.destroy(); upstream.destroy()
      sockets.delete(socket); sockets.delete(upstream)
    }
    upstream.on('connect', () => {
      let head0 = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
      for (let i = 0; i < req.rawHeaders.length; i += 2) head0 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`
      upstream.write(head0 + '\r\n')
      if (head?.length) upstream.write(head)
      socket.pipe(upstream)
      upstream.pipe(socket)
    })
    upstream.on('error', finish)
    socket.on('error', finish)
    upstream.on('close', finish)
    socket.on('close', finish)
  })

  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
  const actual = server.address().port
  return {
    port: actual,
    url: `http://${host}:${actual}`,
    mock,
    // Cuts every proxied WebSocket (the pages see their connection drop and reconnect).
    dropSockets () { for (const s of sockets) s.destroy() },
    async close () {
      mock?.close()
      for (const s of sockets) s.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt }
  const s = await startDevServer({
    port: Number(opt('--port', 5173)),
    host: opt('--host', '127.0.0.1'),
    dist: path.resolve(opt('--dist', path.join(here, 'dist'))),
    tandem: opt('--tandem', 'http://127.0.0.1:8080'),
    api: opt('--api', 'mock'),
    adminToken: opt('--admin-token', null),
    autosaveMs: Number(opt('--autosave', 5000))
  })
  const stop = async () => { await s.close(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  console.log(`dev server on ${s.url} (tandem ${opt('--tandem', 'http://127.0.0.1:8080')}, console API: ${opt('--api', 'mock')})`)
}
