// The operator's console in a real browser: refused without the admin token; with it, the rooms
// table lists a room with its connections, the room page shows its awareness and document tree,
// and restoring an earlier version changes what the open workspace pages show.
import { before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, browserTest, openRoom, converged, editorText, taskTitles, waitFor, ADMIN_TOKEN, WAIT_MS
} from './harness.mjs'

let env
before(async () => { env = await Env.start() })
after(async () => { await env?.stop() })

const signIn = async (page, token) => {
  await page.locator('[data-testid=auth] #admin-token').fill('')
  await page.locator('[data-testid=auth] #admin-token').click()
  await page.keyboard.type(token)
  await page.keyboard.press('Enter')
}

browserTest('console: refuses without the admin token', () => env, async () => {
  // the API itself
  const noToken = await fetch(`${env.origin}/console/api/overview`)
  assert.equal(noToken.status, 401)
  const body = await noToken.json()
  assert.equal(typeof body.error, 'string')
  assert.equal(typeof body.message, 'string')
  const wrong = await fetch(`${env.origin}/console/api/rooms`, { headers: { Authorization: 'Bearer not-the-token' } })
  assert.equal(wrong.status, 401)
  const right = await fetch(`${env.origin}/console/api/overview`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })
  assert.equal(right.status, 200)
  const ov = await right.json()
  for (const k of ['connections', 'roomsLoaded', 'updatesApplied', 'bytesIn', 'bytesOut', 'savesOk', 'savesFailed', 'saveMicrosTotal']) {
    assert.equal(typeof ov.counters[k], 'number', k)
  }

  // the page
  const op = await env.person('Operator')
  const page = op.page
  await page.goto('/console')
  await page.locator('[data-testid=auth][data-status="401"]').waitFor()
  assert.equal(await page.locator('.tile').count(), 0)
  await signIn(page, 'not-the-token')
  await page.locator('[data-testid=auth][data-status="401"]').waitFor()
  assert.match(await page.locator('[data-testid=auth] h1').innerText(), /refused/)
  await signIn(page, ADMIN_TOKEN)
  await page.locator('.tile[data-tile=connections]').waitFor()
  assert.equal(await page.locator('[data-testid=auth]').count(), 0)
  // the token is kept for this tab only
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tandem.adminToken')), ADMIN_TOKEN)
  await page.reload()
  await page.locator('.tile[data-tile=connections]').waitFor()
  await op.context.close()
})

browserTest('console: lists the room with its connections, shows the document tree, restores an earlier version into the open pages', () => env, async () => {
  const alice = await env.person('Alice', { color: '#e11d48' })
  const bob = await env.person('Bob', { color: '#2563eb' })
  const [a, b] = [alice.page, bob.page]
  const room = 'console room #1'
  await openRoom(alice, room, 'doc')
  await openRoom(bob, room, 'tasks')
  await a.click('.ProseMirror')
  await a.keyboard.type('Version one')
  await b.click('.task-add input')
  await b.keyboard.type('first task')
  await b.keyboard.press('Enter')
  await converged([a, b], s => s.document.includes('Version one') && s.tasks.length === 1, 'the first content in both')

  const op = await env.person('Operator')
  const c = op.page
  await c.goto('/console')
  await signIn(c, ADMIN_TOKEN)

  // overview: tiles and the rooms table
  const row = c.locator(`.rooms-table tr[data-room="${room}"]`)
  await row.waitFor({ timeout: WAIT_MS })
  await waitFor(async () => (await row.locator('td').nth(1).innerText()) === '2', 'the room\'s two connections in the table')
  await waitFor(async () => Number(await c.getAttribute('.tile[data-tile=connections] .tile-value', 'data-value')) >= 2, 'the connections tile')
  await c.locator('.rooms-section input[type=search]').fill('no such room')
  await waitFor(async () => (await row.count()) === 0, 'the filter to hide the room')
  await c.locator('.rooms-section input[type=search]').fill('console room')
  await row.waitFor()
  await c.click('[data-sort=id]')
  assert.equal(await c.getAttribute('th:has([data-sort=id])', 'aria-sort'), 'ascending')

  // the room page
  await row.locator('a.room-link').click()
  await waitFor(() => c.url().endsWith(`/console/rooms/${encodeURIComponent(room)}`), 'the room page URL')
  await waitFor(async () => (await c.locator('[data-testid=connection-count]').innerText().catch(() => '')) === '2', 'two connections on the room page')
  await c.locator('.aware-list li', { hasText: 'Alice' }).waitFor()
  await c.locator('.aware-list li', { hasText: 'Bob' }).waitFor()
  const tree = c.locator('[data-testid=document-tree]')
  await waitFor(async () => (await tree.innerText()).includes('Version one'), 'the document tree to show the text')
  await waitFor(async () => (await tree.innerText()).includes('first task'), 'the tree to show the task')
  await tree.locator('details[data-path="$/tasks"] > summary').click()
  await waitFor(async () => !(await tree.innerText()).includes('first task'), 'the tasks node to collapse')
  await tree.locator('details[data-path="$/tasks"] > summary').click()
  await waitFor(async () => (await tree.innerText()).includes('first task'), 'the tasks node to open again')

  // two versions
  const topVersion = async () => Number(await c.locator('.versions-table tbody tr').first().getAttribute('data-version'))
  await c.click('[data-action=save-now]')
  await c.locator('.versions-table tbody tr').first().waitFor({ timeout: WAIT_MS })
  const v1 = await topVersion()
  await a.keyboard.type(' plus two')
  await b.keyboard.type('second task')
  await b.keyboard.press('Enter')
  await converged([a, b], s => s.document.includes('Version one plus two') && s.tasks.length === 2, 'the second content in both')
  await c.click('[data-action=save-now]')
  await waitFor(async () => (await topVersion()) > v1, 'a newer version after the second save')

  // restore the first: the open pages change
  await c.click(`[data-action=restore][data-version="${v1}"]`)
  await c.locator('dialog[open] [data-action=confirm]').click()
  const s = await converged([a, b], st => st.document.includes('Version one') && !st.document.includes('plus two') && st.tasks.length === 1,
    'the restored version in both pages', 20000)
  assert.equal(s.tasks[0].title, 'first task')
  await waitFor(async () => !(await editorText(a)).includes('plus two'), 'Alice\'s editor to show the restored text')
  await waitFor(async () => (await taskTitles(b)).join('|') === 'first task', 'Bob\'s list to show the restored tasks')
  await waitFor(async () => !(await tree.innerText()).includes('plus two'), 'the console\'s tree to follow')
  for (const p of [alice, bob, op]) await p.context.close()
})
