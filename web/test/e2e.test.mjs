// End to end: the real `credit serve` (target/release/credit) serves web/dist at /gradio; headless
// Chromium types an applicant, the probability the page shows must equal POST /predict for the same
// input, an invalid age must show its error next to the field, and the server switch must agree.
// Then the page must follow a model reload (its model comes from GET /model/artifact), and on a
// static host it must fall back to the bundled model. Screenshots go to .work/screenshots/ (the CI
// artifact).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium, serveStatic } from '../../bindings-wasm/test/helpers.mjs'

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

/** `credit serve` on a free port; `adminToken` turns `POST /admin/reload` on. */
async function startServe({ adminToken = '' } = {}) {
  const port = await freePort()
  const scratch = mkdtempSync(join(tmpdir(), 'credit-e2e-'))
  const child = spawn(credit, ['serve', '--host', '127.0.0.1', '--port', String(port), '--model', root + 'models/default.json',
    '--web-dir', root + 'web/dist', '--log', `jsonl://${scratch}/predictions.jsonl`, '--journal', `${scratch}/outbox.db`], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CREDIT_ADMIN_TOKEN: adminToken },
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
    // The shipped model's interaction cells lose points too: their rows ("A × B") are listed,
    // without a reason code of their own.
    const cellRows = page.locator('#reasons li', { hasText: ' × ' })
    assert.ok(await cellRows.count() > 0, 'no interaction cell rows')
    assert.equal(await page.locator('#reasons li.reason', { hasText: ' × ' }).count(), 0)

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
    await checkAnnouncements(page)

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

/**
 * Screen readers hear the result politely, once: the page has exactly one live region (polite,
 * atomic), the field errors are not live (they are tied to their field by aria-describedby and
 * aria-invalid), and typing key by key does not announce each keystroke's state: the live region
 * changes once, after typing pauses, with the result or what to fix.
 */
async function checkAnnouncements(page) {
  const live = await page.evaluate(() => [...document.querySelectorAll('[aria-live], [role=alert], [role=status], [role=log], [role=marquee], [role=timer], output')]
    .map((e) => ({ id: e.id, live: e.getAttribute('aria-live'), atomic: e.getAttribute('aria-atomic') })))
  assert.deepEqual(live, [{ id: 'announce', live: 'polite', atomic: 'true' }], 'one polite live region')
  const err = page.locator('#f-age-err')
  assert.equal(await err.getAttribute('role'), null)
  assert.match(await page.locator('#f-age').getAttribute('aria-describedby'), /\bf-age-err\b/)
  // What the region says while and after an age is typed key by key, from a valid applicant and
  // with the server check off (its answer would join the same announcement).
  await page.locator('#server-check').uncheck()
  await typeInto(page, 'age', '45')
  await new Promise((r) => setTimeout(r, 1500))
  await page.evaluate(() => {
    window.__announced = []
    new MutationObserver(() => window.__announced.push(document.getElementById('announce').textContent))
      .observe(document.getElementById('announce'), { childList: true, characterData: true, subtree: true })
  })
  const age = page.locator('#f-age')
  await age.fill('')
  await age.pressSequentially('1x7a4', { delay: 40 })
  await page.waitForFunction(() => window.__announced.length > 0, null, { timeout: 10_000 })
  await new Promise((r) => setTimeout(r, 1500))
  const invalid = await page.evaluate(() => window.__announced)
  assert.equal(invalid.length, 1, `announced ${JSON.stringify(invalid)}`)
  assert.match(invalid[0], /Age/)
  assert.doesNotMatch(invalid[0], /%/)
  await page.evaluate(() => (window.__announced = []))
  await age.fill('')
  await age.pressSequentially('52', { delay: 40 })
  await page.waitForFunction(() => window.__announced.length > 0, null, { timeout: 10_000 })
  await new Promise((r) => setTimeout(r, 1500))
  const valid = await page.evaluate(() => window.__announced)
  assert.equal(valid.length, 1, `announced ${JSON.stringify(valid)}`)
  const shown = await page.locator('#probability').textContent()
  assert.ok(valid[0].includes(shown), `${valid[0]} does not say ${shown}`)
  assert.match(valid[0], /risk/)
}

/**
 * A reverse proxy that serves `upstream` under `prefix` (`/prefix/x` → `upstream/x`) and answers
 * 404 to everything else, as a path-prefix deployment behind a gateway does.
 */
async function prefixProxy(prefix, upstream) {
  const target = new URL(upstream)
  const server = createHttpServer((req, res) => {
    if (!req.url.startsWith(prefix + '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not under the prefix')
      return
    }
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url.slice(prefix.length), headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.writeHead(502).end())
    req.pipe(up)
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${server.address().port}${prefix}`, close: () => new Promise((r) => server.close(r)) }
}

test('behind a path prefix the page still reaches its server (relative URLs)', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(credit), `${credit} missing: make build`)
  assert.ok(existsSync(root + 'web/dist/index.html'), 'web/dist missing: make web')
  const { url, child } = await startServe()
  const proxy = await prefixProxy('/credit', url)
  let chromium
  try {
    chromium = await launchChromium()
    const page = await chromium.browser.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    const outside = []
    page.on('request', (r) => !r.url().startsWith(proxy.url + '/') && outside.push(r.url()))
    for (const path of ['/gradio', '/']) {
      await page.goto(proxy.url + path)
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
      // The model came from the server's /model/artifact under the prefix, not the bundled copy.
      assert.equal(await page.locator('#model-info').getAttribute('data-source'), 'server', path)
      await page.locator('#server-check').check()
      await page.waitForSelector('#server-result.agree', { timeout: 15_000 })
      const server = await predict(url, vectors.valid[0].input)
      assert.equal(Number(await page.locator('#server-result').getAttribute('data-probability')), server.probability)
    }
    assert.deepEqual(outside, [], 'requests outside the prefix')
    assert.deepEqual(errors, [])
  } finally {
    await chromium?.close()
    await proxy.close()
    await stop(child)
  }
})

/** A valid model other than the shipped one: `credit train` on 3,000 synthetic rows (seconds). */
function trainSecondModel(version) {
  const dir = mkdtempSync(join(tmpdir(), 'credit-e2e-model-'))
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 120_000 })
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`)
  }
  run('python3', [root + 'scripts/synth_data.py', '--out', `${dir}/synthetic.csv.gz`, '--rows', '3000', '--seed', '14'])
  run(credit, ['train', '--data', `${dir}/synthetic.csv.gz`, '--out', `${dir}/model.json`, '--folds', '2', '--max-bins', '8',
    '--model-version', version, '--quiet'])
  return `${dir}/model.json`
}

async function reload(url, token, body) {
  const res = await fetch(url + '/admin/reload', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
  })
  assert.equal(res.status, 200, await res.text())
}

async function predict(url, applicant) {
  const res = await fetch(url + '/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(applicant) })
  assert.equal(res.status, 200)
  return res.json()
}

/** The probability the page shows, once the server switch agrees with it for `version`. */
async function agreedProbability(page, version) {
  await page.waitForFunction((v) => {
    const out = document.getElementById('server-result')
    return out.className === 'agree' && out.textContent.includes(`(model ${v})`)
  }, version, { timeout: 15_000 })
  return Number(await page.locator('#probability').getAttribute('data-value'))
}

test('the page follows a model reload: /model/artifact, ETag, focus and polling', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(credit), `${credit} missing: make build`)
  assert.ok(existsSync(root + 'web/dist/index.html'), 'web/dist missing: make web')
  mkdirSync(shots, { recursive: true })
  const second = trainSecondModel('2.0.0-e2e')
  const token = 'e2e-token'
  const { url, child } = await startServe({ adminToken: token })
  let chromium
  try {
    chromium = await launchChromium()
    const page = await chromium.browser.newPage({ viewport: { width: 1200, height: 900 } })
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    const artifactStatuses = []
    page.on('response', (r) => r.url().endsWith('/model/artifact') && artifactStatuses.push(r.status()))
    // GET /model's optional `source.registry_version` (a registry-backed server reports it): added
    // here to the real answer, so that the page's display of it is tested whatever the server sets.
    await page.route('**/model', async (route) => {
      const res = await route.fetch()
      const body = await res.json()
      body.source = { ...body.source, registry_version: body.model_version === '2.0.0-e2e' ? 8 : 7 }
      await route.fulfill({ response: res, json: body })
    })
    await page.goto(url + '/gradio')
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    const info = page.locator('#model-info')
    assert.match(await info.textContent(), /\(registry version 7\)/)
    assert.equal(await info.getAttribute('data-source'), 'server')
    assert.equal(await info.getAttribute('data-version'), vectors.model_version)
    assert.match(await info.textContent(), new RegExp(`Model ${vectors.model_version}\\b.*from this server`))
    const applicant = vectors.valid[0].input
    await page.locator('#server-check').check()
    const before = await agreedProbability(page, vectors.model_version)
    assert.equal(before, (await predict(url, applicant)).probability)

    // Focus with no change: a conditional request answered 304, nothing else happens.
    await page.evaluate(() => window.dispatchEvent(new Event('focus')))
    for (let i = 0; i < 50 && !artifactStatuses.includes(304); i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal(artifactStatuses[0], 200)
    assert.ok(artifactStatuses.length >= 2 && artifactStatuses.slice(1).every((s) => s === 304), `statuses ${artifactStatuses}`)

    // The server is reloaded with another model; the window regains focus: the page switches.
    await reload(url, token, { path: second })
    await page.evaluate(() => window.dispatchEvent(new Event('focus')))
    await page.waitForSelector('#model-info[data-version="2.0.0-e2e"]', { timeout: 10_000 })
    assert.match(await page.locator('#model-note').textContent(), /from model .* to 2\.0\.0-e2e/)
    assert.match(await info.textContent(), /Model 2\.0\.0-e2e \(registry version 8\)/)
    const after = await agreedProbability(page, '2.0.0-e2e')
    const server = await predict(url, applicant)
    assert.equal(server.model_version, '2.0.0-e2e')
    assert.equal(after, server.probability, 'the page and POST /predict differ after the reload')
    assert.notEqual(after, before, 'the second model scores this applicant like the first: the test proves nothing')
    await page.screenshot({ path: shots + 'gradio-model-reloaded.png', fullPage: true })

    // Polling alone (a short interval through the test hook), no focus event: back to the first model.
    await page.goto(url + '/gradio?model-poll=300')
    await page.waitForSelector('#model-info[data-version="2.0.0-e2e"]', { timeout: 30_000 })
    await page.locator('#server-check').check()
    await reload(url, token, { model: root + 'models/default.json' })  // a reload by name sticks: name the first again
    await page.waitForSelector(`#model-info[data-version="${vectors.model_version}"]`, { timeout: 10_000 })
    assert.equal(await agreedProbability(page, vectors.model_version), before)
    assert.deepEqual(errors, [])
  } finally {
    await chromium?.close()
    await stop(child)
  }
})

test('on a static host the page scores with its bundled model', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(root + 'web/dist/index.html'), 'web/dist missing: make web')
  const site = await serveStatic({ '/': root + 'web/dist' })
  let chromium
  try {
    chromium = await launchChromium()
    const page = await chromium.browser.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(site.url + '/')
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    const info = page.locator('#model-info')
    assert.equal(await info.getAttribute('data-source'), 'bundled')
    assert.equal(await info.getAttribute('data-version'), vectors.model_version)
    assert.match(await info.textContent(), /bundled with the page/)
    assert.equal(Number(await page.locator('#probability').getAttribute('data-value')), vectors.valid[0].expected.probability)
    assert.deepEqual(errors, [])
  } finally {
    await chromium?.close()
    await site.close()
  }
})
