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

/**
 * Loads the package in a page of `chromium` with `init(initOptions)` and runs the shared vectors;
 * reports which .wasm files the page fetched and whether this engine has WebAssembly SIMD (the
 * probe, and whether the SIMD module compiles).
 */
async function vectorsInPage(chromium, server, initOptions) {
  const page = await chromium.browser.newPage()
  const pageErrors = []
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  const wasmFetched = []
  // The .wasm files init() fetched (the SIMD probe below asks with a query string).
  page.on('request', (r) => r.url().endsWith('.wasm') && wasmFetched.push(new URL(r.url()).pathname))
  await page.goto(server.url + '/test/blank.html')
  const result = await page.evaluate(async (options) => {
    const { default: init, simdSupported, Model, Batch } = await import('/pkg/credit_default.js')
    const { checkVectors } = await import('/test/vectors-check.mjs')
    let simdModuleError = null
    try {
      await WebAssembly.compile(await (await fetch('/pkg/credit_default_bg.wasm?probe', { cache: 'no-store' })).arrayBuffer())
    } catch (e) {
      simdModuleError = String(e.message)
    }
    await init(options)
    const vectors = await (await fetch('/testdata/vectors.json')).json()
    return { ...checkVectors(Model, vectors, Batch), simdSupported: simdSupported(), simdModuleError }
  }, initOptions)
  await page.close()
  return { ...result, wasmFetched, pageErrors }
}

test('simd: false loads the non-SIMD module in Chromium; it scores the shared vectors', { timeout: 120_000 }, async () => {
  const server = await serveStatic({ '/pkg/': pkg, '/test/': here, '/testdata/': root + 'testdata/' })
  let chromium
  try {
    chromium = await launchChromium()
    const auto = await vectorsInPage(chromium, server, undefined)
    assert.equal(auto.simdSupported, true)
    assert.equal(auto.simdModuleError, null)
    assert.deepEqual(auto.wasmFetched, ['/pkg/credit_default_bg.wasm'])
    assert.deepEqual(auto.failures, [])
    const forced = await vectorsInPage(chromium, server, { simd: false })
    assert.deepEqual(forced.wasmFetched, ['/pkg/credit_default_nosimd_bg.wasm'])
    assert.deepEqual(forced.failures, [])
    assert.ok(forced.checked > 0)
    assert.deepEqual(forced.pageErrors, [])
  } finally {
    await chromium?.close()
    await server.close()
  }
})

// Chromium's V8 turns WebAssembly SIMD off on a CPU without SSE4.1; `--js-flags=--no-enable-sse4-1`
// makes it behave so: a real browser engine without SIMD (the probe is refused, a module with SIMD
// fails to compile). init() must detect it, fetch the non-SIMD module (which compiles there: it
// has no SIMD instruction) and score the shared vectors.
test('a Chromium without WebAssembly SIMD falls back to the non-SIMD module', { timeout: 120_000 }, async () => {
  const server = await serveStatic({ '/pkg/': pkg, '/test/': here, '/testdata/': root + 'testdata/' })
  let chromium
  try {
    chromium = await launchChromium(['--js-flags=--no-enable-sse4-1'])
    const r = await vectorsInPage(chromium, server, undefined)
    assert.equal(r.simdSupported, false)
    assert.match(r.simdModuleError ?? 'compiled', /SIMD/)
    assert.deepEqual(r.wasmFetched, ['/pkg/credit_default_nosimd_bg.wasm'])
    assert.deepEqual(r.failures, [])
    assert.ok(r.checked > 0)
    assert.deepEqual(r.pageErrors, [])
  } finally {
    await chromium?.close()
    await server.close()
  }
})
