// End to end: the real `credit serve` (target/release/credit) serves web/dist at /gradio; headless
// Chromium types an applicant, the probability the page shows must equal POST /predict for the same
// input, an invalid age must show its error next to the field, and the server switch must agree.
// Screenshots go to .work/screenshots/ (the CI artifact).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '../../bindings-wasm/test/helpers.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const credit = process.env.CREDIT ?? root + 'target/release/credit'
const shots = root + '.work/screenshots/'
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function startServe() {
  const port = await freePort()
  const scratch = mkdtempSync(join(tmpdir(), 'credit-e2e-'))
  const child = spawn(credit, ['serve', '--host', '127.0.0.1', '--port', String(port), '--model', root + 'models/default.json',
    '--web-dir', root + 'web/dist', '--log', `jsonl://${scratch}/predictions.jsonl`, '--journal', `${scratch}/outbox.db`], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CREDIT_ADMIN_TOKEN: '' },
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`credit serve exited: ${stderr}`)
    try {
      if ((await fetch(url + '/ready')).ok) return { url, child }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`credit serve did not become ready: ${stderr}`)
}

async function stop(child) {
  if (child.exitCode !== null) return
  const done = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await done
  clearTimeout(timer)
}

async function typeInto(page, field, value) {
  const input = page.locator(`#f-${field}`)
  await input.fill('')
  await input.pressSequentially(String(value))
}

test('the page at /gradio scores like POST /predict', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(credit), `${credit} missing: make build`)
  assert.ok(existsSync(root + 'web/dist/index.html'), 'web/dist missing: make web')
  mkdirSync(shots, { recursive: true })
  const { url, child } = await startServe()
  let chromium
  try {
    chromium = await launchChromium()
    const page = await chromium.browser.newPage({ viewport: { width: 1200, height: 900 } })
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(url + '/gradio')
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })

    // An applicant from the shared vectors other than the pre-filled example, typed key by key.
    const seedP = vectors.valid[0].expected.probability
    const v = vectors.valid.find((x) => x.expected.probability !== seedP && Object.keys(x.input).length === 10 && Object.values(x.input).every((y) => y !== null)) ?? vectors.valid[0]
    for (const [k, val] of Object.entries(v.input)) {
      const name = k.replace('30-59', '30_59').replace('60-89', '60_89')
      await typeInto(page, name, val)
    }
    const shown = Number(await page.locator('#probability').getAttribute('data-value'))
    const res = await fetch(url + '/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v.input) })
    assert.equal(res.status, 200)
    const server = await res.json()
    assert.equal(shown, server.probability, 'page and POST /predict differ')
    assert.equal(await page.locator('#probability').textContent(), `${(100 * server.probability).toFixed(2)}%`)
    assert.equal(await page.locator('#decision').textContent(), server.prediction === 1 ? 'High risk (1)' : 'Low risk (0)')
    const reasons = await page.locator('#reasons li.reason').count()
    assert.equal(reasons, server.reasons.length)

    // The switch: the page asks the server and shows that it agrees.
    await page.locator('#server-check').check()
    await page.waitForSelector('#server-result.agree', { timeout: 15_000 })
    assert.equal(Number(await page.locator('#server-result').getAttribute('data-probability')), server.probability)
    await page.screenshot({ path: shots + 'gradio.png', fullPage: true })

    // An invalid age: the error appears next to the field, and no probability is shown.
    await typeInto(page, 'age', '17')
    const err = page.locator('#f-age-err')
    await assert.doesNotReject(err.waitFor({ state: 'visible', timeout: 5_000 }))
    assert.match(await err.textContent(), /18 to 120/)
    assert.equal(await page.locator('#f-age').getAttribute('aria-invalid'), 'true')
    assert.equal(await page.locator('#probability').textContent(), '–')
    await page.waitForFunction(() => /422/.test(document.getElementById('server-result').textContent), null, { timeout: 15_000 })
    assert.match(await page.locator('#server-result').textContent(), /agrees/)
    await page.screenshot({ path: shots + 'gradio-invalid-age.png', fullPage: true })

    // Phone width: no horizontal scrolling; keyboard: Tab reaches the first field.
    await page.setViewportSize({ width: 375, height: 800 })
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    assert.ok(overflow <= 0, `horizontal overflow ${overflow}px at phone width`)
    await page.screenshot({ path: shots + 'gradio-phone.png', fullPage: true })
    await page.goto(url + '/')
    await page.waitForSelector('body[data-ready="true"]')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-RevolvingUtilizationOfUnsecuredLines')
    const labelled = await page.evaluate(() => [...document.querySelectorAll('input')].every((i) => i.labels?.length > 0 || i.closest('label')))
    assert.ok(labelled, 'every input has a label')
    assert.deepEqual(errors, [])
  } finally {
    await chromium?.close()
    await stop(child)
  }
})
