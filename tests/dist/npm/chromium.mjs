// Run by tests/dist/test_npm.py: serves the fresh project directory (and nothing else) on a free
// loopback port, opens its index.html in headless Chromium ($CHROMIUM) and prints (JSON on stdout)
// the page's window.__result, the requests the page made and any page errors.
// playwright-core is only the driver here (from the repository's bindings-wasm/node_modules); the
// package under test is what the page imports from the project's node_modules.
// Usage: node chromium.mjs <project-dir> <playwright-core-dir>
import { createServer } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { extname, join, resolve, sep } from 'node:path'

const [project, playwrightDir] = process.argv.slice(2)
const { chromium } = createRequire(join(playwrightDir, 'package.json'))(playwrightDir)
const CHROMIUM = process.env.CHROMIUM // chosen by the test (find_chromium)
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
}

const base = resolve(project)
const requests = []
const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
  const file = resolve(join(base, path === '/' ? 'index.html' : path))
  let status = 404
  try {
    if (file.startsWith(base + sep) && (await stat(file)).isFile()) {
      const body = await readFile(file)
      status = 200
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' })
      res.end(body)
    }
  } catch {
    // 404 below
  }
  if (status !== 200) res.writeHead(404).end('not found')
  requests.push({ path, status })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${server.address().port}/index.html`

let browser
const pageErrors = []
let result
try {
  // The launch flags of bindings-wasm/test/helpers.mjs (what these machines need).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  const page = await browser.newPage()
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`) })
  await page.goto(url)
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 })
  result = await page.evaluate(() => window.__result)
} catch (e) {
  result = { ok: false, error: `driver: ${e?.stack ?? e}` }
} finally {
  await browser?.close()
  await new Promise((r) => server.close(r))
}
process.stdout.write(JSON.stringify({ url, result, requests, pageErrors }))
