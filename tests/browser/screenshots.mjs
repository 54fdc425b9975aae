#!/usr/bin/env node
// Takes the README's screenshots with the test setup: docs/images/workspace.png (a room's
// document with another person's caret) and docs/images/console.png (the console's overview with
// a few busy rooms).
//   TANDEM_TANDEM=build/release/src/cli/tandem node tests/browser/screenshots.mjs [--out DIR]
// (TANDEM_BROWSER_PAGES=dev serves the pages from web/ with the mock console API, as in the tests.)
import fs from 'node:fs'
import path from 'node:path'
import { Env, openRoom, converged, repoRoot, sleep, ADMIN_TOKEN } from './harness.mjs'

const args = process.argv.slice(2)
const outIdx = args.indexOf('--out')
const out = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(repoRoot, 'docs/images'))
fs.mkdirSync(out, { recursive: true })

const env = await Env.start()
try {
  const viewport = { width: 1360, height: 820 }
  const alice = await env.person('Alice Martin', { color: '#e11d48', viewport })
  const bob = await env.person('Bob Chen', { color: '#2563eb', viewport })
  const carol = await env.person('Carol Diaz', { color: '#059669', viewport })
  const [a, b, c] = [alice.page, bob.page, carol.page]
  const room = 'team-roadmap'
  await openRoom(alice, room, 'doc')
  await openRoom(bob, room, 'doc')
  await openRoom(carol, room, 'tasks')

  // the document
  await a.click('.ProseMirror')
  await a.keyboard.type('Launch plan')
  await a.click('[data-cmd=h1]')
  await a.keyboard.press('End')
  await a.keyboard.press('Enter')
  await a.keyboard.type('We ship the collaborative workspace on ')
  await a.keyboard.press('Control+b')
  await a.keyboard.type('October 14')
  await a.keyboard.press('Control+b')
  await a.keyboard.type('. Everything below is live: edit it together.')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Milestones')
  await a.click('[data-cmd=h2]')
  await a.keyboard.press('End')
  await a.keyboard.press('Enter')
  await a.keyboard.type('- Private beta with ')
  await a.keyboard.press('Control+i')
  await a.keyboard.type('three design partners')
  await a.keyboard.press('Control+i')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Load test: 2,000 people in one room')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Docs and the operator console')
  await a.keyboard.press('Enter')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Open questions')
  await a.click('[data-cmd=h2]')
  await a.keyboard.press('End')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Pricing for large rooms, and whether viewers count as seats.')
  // Bob's caret in the middle of the first paragraph
  await b.click('.ProseMirror p >> nth=0')
  await b.keyboard.press('Home')
  for (let i = 0; i < 9; i++) await b.keyboard.press('Control+ArrowRight')
  await b.keyboard.press('Control+Shift+ArrowRight')

  // the diagram and the tasks (for the console's numbers)
  await c.click('.task-add input')
  for (const t of ['Freeze the API', 'Write the migration guide', 'Book the launch webinar']) { await c.keyboard.type(t); await c.keyboard.press('Enter') }
  await c.locator('.task-list .task').nth(0).locator('.done').click()
  await converged([a, b, c], s => s.tasks.length === 3 && s.document.includes('seats'), 'the seeded room')
  await sleep(500)
  await a.keyboard.press('End')
  await a.mouse.move(1300, 700)
  await sleep(300)
  await a.screenshot({ path: path.join(out, 'workspace.png') })

  // a few more rooms with traffic, and the console watching
  const others = []
  for (const [i, name] of ['design-review', 'support-faq'].entries()) {
    const p = await env.person(`Guest ${i}`, { viewport })
    await openRoom(p, name, 'doc')
    others.push(p)
  }
  const op = await env.person('Operator', { viewport: { width: 1360, height: 900 } })
  await op.page.goto('/console')
  await op.page.locator('[data-testid=auth] #admin-token').fill(ADMIN_TOKEN)
  await op.page.keyboard.press('Enter')
  await op.page.locator('.tile[data-tile=connections]').waitFor()
  const typers = [a, ...others.map(p => p.page)]
  for (const p of typers.slice(1)) await p.click('.ProseMirror')
  // about a minute of typing, so the charts fill their window
  const until = Date.now() + 62000
  for (let round = 0; Date.now() < until; round++) {
    await Promise.all(typers.map((p, i) => p.keyboard.type(['Notes ', 'and more ', 'text '][(round + i) % 3], { delay: 30 + 40 * ((round * 7 + i) % 4) })))
    if (round === 6) await c.locator('.task-list .task').nth(1).locator('.done').click()
    if (round % 9 === 8) await sleep(1500)
  }
  await sleep(1600)
  await op.page.mouse.move(1300, 880)
  await op.page.screenshot({ path: path.join(out, 'console.png') })
  console.log(`screenshots in ${out}: workspace.png, console.png`)
} finally {
  await env.stop()
}
