// The module graph of Tandem (one folder of src/ per module, CMake targets inside) checked
// against the code and the docs. Input: build/<preset>/module_graph.json, which CMake writes.
//
//   node tools/module_graph.mjs --check GRAPH   fails when a file includes a header of a module
//                                               its target does not link (directly or through
//                                               what it links), or when docs/ARCHITECTURE.md's
//                                               module table differs from the graph
//   node tools/module_graph.mjs --write GRAPH   rewrites that table from the graph
//
// A header belongs to the target that compiles the .cc of the same name; a header without one
// belongs to its folder's main target, tandem_<folder>.
import fs from 'node:fs'
import path from 'node:path'

const [mode, graphPath] = process.argv.slice(2)
if (!['--check', '--write'].includes(mode) || !graphPath) {
  console.error('usage: node tools/module_graph.mjs --check|--write build/<preset>/module_graph.json')
  process.exit(2)
}
const root = process.cwd()
const targets = JSON.parse(fs.readFileSync(graphPath, 'utf8'))
const byName = new Map(targets.map(t => [t.name ?? t.target, t]))

const rel = (dir, s) => {
  const p = path.isAbsolute(s) ? s : path.join(root, dir, s)
  return path.relative(root, p)
}
for (const t of targets) {
  t.files = t.sources.map(s => rel(t.dir, s)).filter(f => !f.startsWith('..') && !f.startsWith('build'))
}

// Header ownership.
const owner = new Map()
// Libraries first; then executables claim the headers of their own .cc files (cli's commands).
const libsFirst = [...targets].sort((a, b) => Number(!a.type.endsWith('LIBRARY')) - Number(!b.type.endsWith('LIBRARY')))
for (const t of libsFirst) {
  for (const f of t.files) {
    if (owner.has(f) || owner.has(f.replace(/\.cc$/, '.h'))) continue
    if (f.endsWith('.cc')) {
      const h = f.replace(/\.cc$/, '.h')
      if (fs.existsSync(h)) owner.set(h, t.target)
    } else if (f.endsWith('.h')) {
      owner.set(f, t.target)
    }
  }
}
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
  e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])
const moduleOf = (file) => file.split(path.sep)[1] // src/<module>/...
for (const h of walk('src').filter(f => f.endsWith('.h'))) {
  if (!owner.has(h)) {
    const main = `tandem_${moduleOf(h)}`
    // A folder without a main library (src/cli): its headers are for its own targets.
    owner.set(h, byName.has(main) ? main : `folder:src/${moduleOf(h)}`)
  }
}

// What each target may include: itself and everything it links, transitively.
const closure = new Map()
const reach = (name, seen = new Set()) => {
  if (closure.has(name)) return closure.get(name)
  if (seen.has(name)) return new Set()
  seen.add(name)
  const out = new Set([name])
  for (const d of byName.get(name)?.links ?? []) for (const x of reach(d, seen)) out.add(x)
  closure.set(name, out)
  return out
}

const problems = []
const includeRe = /^\s*#\s*include\s+"([a-z0-9_]+\/[^"]+\.h)"/gm
const checkFile = (file, target) => {
  const text = fs.readFileSync(file, 'utf8')
  for (const m of text.matchAll(includeRe)) {
    const header = path.join('src', m[1])
    const by = owner.get(header)
    if (!by) {
      if (!fs.existsSync(header)) continue // generated, or not a src/ header
      problems.push(`${file}: includes ${m[1]}, which no target owns`)
      continue
    }
    const sameFolder = by.startsWith('folder:') && byName.get(target)?.dir === by.slice(7)
    if (!sameFolder && !reach(target).has(by)) {
      problems.push(`${file}: includes "${m[1]}" (${by}), but ${target} does not link ${by}`)
    }
  }
}
for (const t of targets) {
  for (const f of t.files) checkFile(f, t.target)
}
for (const [h, t] of owner) if (!t.startsWith('folder:')) checkFile(h, t)

// docs/ARCHITECTURE.md's module table.
const modules = new Map()
for (const t of targets) {
  if (!t.dir.startsWith('src/')) continue
  const m = t.dir.slice(4)
  if (!modules.has(m)) modules.set(m, { targets: [], deps: new Set() })
  const mod = modules.get(m)
  if (!t.target.endsWith('_test') && !t.target.endsWith('_testing') && !t.target.endsWith('_seeds')) {
    mod.targets.push(t.target)
    for (const d of t.links) {
      const dm = byName.get(d)?.dir?.slice(4)
      if (dm && dm !== m) mod.deps.add(dm)
    }
  }
}
const describe = (m) => {
  // The first comment paragraph of the module's CMakeLists.txt.
  const lines = fs.readFileSync(path.join('src', m, 'CMakeLists.txt'), 'utf8').split('\n')
  const out = []
  for (const l of lines) {
    if (!l.startsWith('#')) break
    out.push(l.replace(/^#\s?/, ''))
  }
  return out.join(' ').replace(/`/g, '`').trim() || '—'
}
const order = ['base', 'lib0', 'crdt', 'protocol', 'net', 'auth', 'sqlite', 'roomlog', 'snapshot', 'store', 'room', 'server', 'web', 'console', 'cli']
const rows = [...modules.keys()].sort((a, b) => (order.indexOf(a) + 100) % 100 - (order.indexOf(b) + 100) % 100)
let table = '| module | targets | links | what |\n|---|---|---|---|\n'
for (const m of rows) {
  const mod = modules.get(m)
  const deps = [...mod.deps].sort((a, b) => order.indexOf(a) - order.indexOf(b))
  table += `| \`${m}\` | ${mod.targets.map(t => `\`${t}\``).join(', ')} | ${deps.join(', ') || '—'} | ${describe(m)} |\n`
}
const docPath = 'docs/ARCHITECTURE.md'
const doc = fs.readFileSync(docPath, 'utf8')
const begin = '<!-- module-table:begin (tools/module_graph.mjs --write) -->\n'
const end = '<!-- module-table:end -->'
const i = doc.indexOf(begin)
const j = doc.indexOf(end)
if (i < 0 || j < 0) {
  problems.push(`${docPath}: no module table markers`)
} else if (mode === '--write') {
  fs.writeFileSync(docPath, doc.slice(0, i + begin.length) + table + doc.slice(j))
} else if (doc.slice(i + begin.length, j) !== table) {
  problems.push(`${docPath}: the module table differs from the graph; run node tools/module_graph.mjs --write ${graphPath}`)
}

if (problems.length) {
  for (const p of problems) console.error(p)
  console.error(`${problems.length} problem(s)`)
  process.exit(1)
}
console.log(`module graph: ${targets.length} targets, ${owner.size} headers, includes and docs agree`)
