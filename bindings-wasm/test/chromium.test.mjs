// The browser package in real headless Chromium: a page imports the ES module (fetching the .wasm
// with init()) and runs the shared test vectors with the same checker as the Node test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { serveStatic, launchChromium } from './helpers.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const here = fileURLToPath(new URL('./', import.meta.url))
const pkg = fileURLToPath(new URL('../pkg/', import.meta.url))

test('shared test vectors in headless Chromium', { timeout: 120_000 }, async () => {
  const server = await serveStatic({ '/pkg/': pkg, '/test/': here, '/testdata/': root + 'testdata/' })
  let chromium
  try {
    chromium = await launchChromium()
    const { browser } = chromium
    const page = await browser.newPage()
    const consoleErrors = []
    page.on('pageerror', (e) => consoleErrors.push(String(e)))
    await page.goto(server.url + '/test/blank.html')
    const result = await page.evaluate(async () => {
      const { default: init, Model, Batch } = await import('/pkg/credit_default.js')
      const { checkVectors } = await import('/test/vectors-check.mjs')
      // A shipped model that cannot be fetched does not fail init(); Model.default() says why.
      await init({ defaultModelUrl: '/pkg/no-such-model.json' })
      let missing
      try {
        Model.default()
      } catch (e) {
        missing = { name: e.name, code: e.code, mentionsUrl: e.message.includes('no-such-model.json') }
      }
      await init() // fetches default-model.json next to the module
      const vectors = await (await fetch('/testdata/vectors.json')).json()
      const out = checkVectors(Model, vectors, Batch)
      let badInput
      try {
        Model.default().predict({ age: 'x' })
      } catch (e) {
        badInput = { name: e.name, code: e.code, n: e.errors.length, isError: e instanceof Error }
      }
      return { ...out, badInput, missing, userAgent: navigator.userAgent }
    })
    assert.match(result.userAgent, /Chrome/)
    assert.deepEqual(result.failures, [])
    assert.ok(result.checked > 0)
    assert.deepEqual(result.badInput, { name: 'CreditError', code: 'invalid_applicant', n: 8, isError: true })
    assert.deepEqual(result.missing, { name: 'CreditError', code: 'invalid_model', mentionsUrl: true })
    assert.deepEqual(consoleErrors, [])
  } finally {
    await chromium?.close()
    await server.close()
  }
})
