// Durability seen from the browser: the server stopped with SIGTERM, or killed with kill -9 right
// after an edit reached the other person, then restarted on the same data; both pages reloaded
// (their in-memory documents dropped before the server is back, so only what the server kept can
// come back) show every text, shape and task.
import { before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, browserTest, openRoom, converged, docState, editorText, taskTitles, waitFor
} from './harness.mjs'

let env
// The dev server's mock console API keeps a live copy of each room, which would hand lost edits
// back to a restarted server: these tests run without it.
before(async () => { env = await Env.start({ consoleApi: false }) })
after(async () => { await env?.stop() })

// Alice writes and plans, Bob draws: returns the converged state.
const fillRoom = async (a, b, alice, bob, room) => {
  await openRoom(alice, room, 'doc')
  await openRoom(bob, room, 'diagram')
  await a.click('.ProseMirror')
  await a.keyboard.type(`Notes of ${room}`)
  await a.keyboard.press('Enter')
  await a.keyboard.type('- durable item')
  await b.click('[data-add=rectangle]')
  await b.keyboard.type('Kept box')
  await b.keyboard.press('Enter')
  await b.click('[data-add=ellipse]')
  await b.keyboard.type('Kept ellipse')
  await b.keyboard.press('Enter')
  await b.click('[data-add=text]')
  await b.keyboard.press('Control+a')
  await b.keyboard.type('Kept text')
  await b.keyboard.press('Enter')
  const st0 = await docState(b)
  const ids = Object.keys(st0.shapes).sort()
  await b.click(`.shape[data-id="${ids[0]}"] .body`)
  await b.click('[data-action=connect]')
  await b.click(`.shape[data-id="${ids[1]}"] .body`)
  await a.click('#tab-tasks')
  await a.click('.task-add input')
  await a.keyboard.type('Kept task one')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Kept task two')
  await a.keyboard.press('Enter')
  await a.locator('.task-list .task').nth(0).locator('.done').click()
  return converged([a, b], s => s.document.includes('durable item') && Object.keys(s.shapes).length === 3 &&
    Object.keys(s.edges).length === 1 && s.tasks.length === 2 && s.tasks[0].done === true, 'the room to be filled in both')
}

// Drops both pages' documents (about:blank), restarts the server with `signal`, reopens both.
const restartAndReload = async (pages, people, room, signal) => {
  const exit = await env.restart(signal, { beforeStart: () => Promise.all(pages.map(p => p.goto('about:blank'))) })
  await openRoom(people[0], room, 'doc')
  await openRoom(people[1], room, 'diagram')
  return exit
}

const checkShown = async (a, b, expected) => {
  // the editor, the canvas and the list show it, not only the Y.Doc
  for (const line of ['durable item']) assert.ok((await editorText(a)).includes(line))
  await waitFor(async () => (await b.locator('.shape').count()) === 3, 'three shapes on the canvas')
  assert.equal(await b.locator('.edge-g').count(), 1)
  for (const v of Object.values(expected.shapes)) await b.locator('.shape .label', { hasText: v.text }).first().waitFor()
  await a.click('#tab-tasks')
  await waitFor(async () => (await taskTitles(a)).join('|') === expected.tasks.map(t => t.title).join('|'), 'the task list')
  assert.equal(await a.locator('.task-list .task').nth(0).locator('.done').isChecked(), true)
}

browserTest('SIGTERM and restart: both pages reloaded show every text, shape and task', () => env, async () => {
  const alice = await env.person('Alice', { color: '#e11d48' })
  const bob = await env.person('Bob', { color: '#2563eb' })
  const [a, b] = [alice.page, bob.page]
  const room = 'restart-sigterm'
  const before = await fillRoom(a, b, alice, bob, room)

  const exit = await restartAndReload([a, b], [alice, bob], room, 'SIGTERM')
  assert.equal(exit.code, 0, `a SIGTERM stop exits 0, got ${JSON.stringify(exit)}`)
  const after = await converged([a, b], s => s.tasks.length === 2, 'the reloaded pages')
  assert.deepEqual(after, before)
  await checkShown(a, b, before)
  await alice.context.close()
  await bob.context.close()
})

browserTest('kill -9 right after an edit reached the other context: both pages reloaded show it all', () => env, async () => {
  const alice = await env.person('Alice', { color: '#e11d48' })
  const bob = await env.person('Bob', { color: '#2563eb' })
  const [a, b] = [alice.page, bob.page]
  const room = 'restart-kill9'
  await fillRoom(a, b, alice, bob, room)

  // one more edit; the moment Bob has it, the server dies
  await a.click('#tab-doc')
  await a.click('.ProseMirror')
  await a.keyboard.press('Control+End')
  await a.keyboard.press('Enter')
  await a.keyboard.type('Last words before the crash')
  await b.waitForFunction(() => window.tandem.doc.getXmlFragment('document').toJSON().includes('Last words before the crash'), null, { polling: 5, timeout: 15000 })
  const before = await docState(b)

  const exit = await restartAndReload([a, b], [alice, bob], room, 'SIGKILL')
  assert.equal(exit.signal, 'SIGKILL')
  const after = await converged([a, b], s => s.tasks.length === 2, 'the reloaded pages')
  assert.deepEqual(after, before)
  assert.ok(after.document.includes('Last words before the crash'))
  await checkShown(a, b, before)
  await alice.context.close()
  await bob.context.close()
})

