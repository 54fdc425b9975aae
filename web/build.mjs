#!/usr/bin/env node
// Bundles the workspace and the console with esbuild into OUT (default: dist):
//   OUT/index.html, OUT/console.html, OUT/assets/{app,console}-HASH.{js,css}, OUT/assets/favicon-HASH.svg
// Asset names carry a content hash, so the server may cache /assets/* forever.
//   node build.mjs [--out DIR] [--dev]   (--dev: no minification, inline source maps)
import * as esbuild from 'esbuild'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const argValue = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt
}
const out = path.resolve(argValue('--out', path.join(here, 'dist')))
const dev = args.includes('--dev')

if (!fs.existsSync(path.join(here, 'node_modules', 'esbuild'))) {
  console.error(`build.mjs: ${path.join(here, 'node_modules')} is missing: run scripts/install-deps (or npm ci in web/)`)
  process.exit(1)
}

const assets = path.join(out, 'assets')
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(assets, { recursive: true })

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/workspace/main.js', console: 'src/console/main.js' },
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: dev ? 'inline' : 'eof',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' }
})

// Exactly one copy of yjs (two copies break `instanceof` checks and Yjs warns at run time).
const yjsCopies = new Set()
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/^(.*node_modules\/yjs)\//)
  if (m) yjsCopies.add(m[1])
}
if (yjsCopies.size !== 1) {
  console.error(`build.mjs: expected exactly one copy of yjs in the bundle, found ${yjsCopies.size}: ${[...yjsCopies].join(', ')}`)
  process.exit(1)
}

// name -> /assets/file of each output
const outputs = {}
for (const file of Object.keys(result.metafile.outputs)) {
  const base = path.basename(file)
  outputs[`${base.split('-')[0]}${path.extname(base)}`] = `/assets/${base}`
}
for (const need of ['app.js', 'app.css', 'console.js', 'console.css']) {
  if (!outputs[need]) { console.error(`build.mjs: esbuild produced no ${need}`); process.exit(1) }
}

const hash = (buf) => crypto.createHash('sha256').update(buf).digest('hex').slice(0, 8).toUpperCase()
const { FAVICON_SVG } = await import('./src/shared/favicon.mjs')
const faviconName = `favicon-${hash(FAVICON_SVG)}.svg`
fs.writeFileSync(path.join(assets, faviconName), FAVICON_SVG)

const page = (template, js, css) => fs.readFileSync(path.join(here, 'src', template), 'utf8')
  .replaceAll('%JS%', js).replaceAll('%CSS%', css).replaceAll('%FAVICON%', `/assets/${faviconName}`)
fs.writeFileSync(path.join(out, 'index.html'), page('index.html', outputs['app.js'], outputs['app.css']))
fs.writeFileSync(path.join(out, 'console.html'), page('console.html', outputs['console.js'], outputs['console.css']))

if (!args.includes('--quiet')) {
  for (const f of fs.readdirSync(out, { recursive: true }).sort()) {
    const p = path.join(out, f)
    if (fs.statSync(p).isFile()) console.log(`  ${path.relative(process.cwd(), p)}  ${fs.statSync(p).size} B`)
  }
}
