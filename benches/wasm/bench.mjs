// make bench-wasm: per-row time of one 100,000-row predictBatch call in headless Chromium (the
// browser package) against the native core (native/, a plain Rust binary) and the Node addon, on
// the same rows. Prints the times and the WASM / native ratio (target: <= 2).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { serveStatic, launchChromium } from '../../bindings-wasm/test/helpers.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const N = Number(process.env.BENCH_ROWS ?? 100_000)
const REPEATS = Number(process.env.BENCH_REPEATS ?? 21)
const work = root + '.work/bench-wasm/'
mkdirSync(work, { recursive: true })

// Deterministic, realistic rows (xorshift), a few with missing income / dependents.
let s = 0x2545f491
const rnd = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32)
const data = new Float64Array(N * 10)
for (let i = 0; i < N; i++) {
  const r = [rnd() * 1.2, 21 + Math.floor(rnd() * 70), Math.floor(rnd() * 4), rnd() * 3,
    rnd() < 0.2 ? NaN : Math.round(rnd() * 15000), Math.floor(rnd() * 25), Math.floor(rnd() * 3),
    Math.floor(rnd() * 5), Math.floor(rnd() * 3), rnd() < 0.03 ? NaN : Math.floor(rnd() * 5)]
  data.set(r, i * 10)
}
writeFileSync(work + 'rows.f64', Buffer.from(data.buffer))

// Native core.
execFileSync('cargo', ['build', '--release', '--quiet', '--manifest-path', root + 'benches/wasm/native/Cargo.toml', '--target-dir', root + 'target'], { stdio: 'inherit' })
const native = JSON.parse(execFileSync(root + 'target/release/credit-bench-wasm-native', [root + 'models/default.json', work + 'rows.f64', String(REPEATS)]).toString())

// Node addon (native code behind one napi call), when built.
let node
if (existsSync(root + 'bindings-node/credit-default.linux-x64-gnu.node')) {
  const { Model } = createRequire(import.meta.url)(root + 'bindings-node/index.js')
  const m = Model.default()
  const times = []
  for (let i = 0; i < REPEATS; i++) {
    const t = process.hrtime.bigint()
    m.predictBatch(data, N)
    times.push(Number(process.hrtime.bigint() - t) / 1e9)
  }
  times.sort((a, b) => a - b)
  node = times[times.length >> 1]
}

// WASM in Chromium: the page fetches the same rows and times predictBatch (copy in and out included).
const server = await serveStatic({ '/pkg/': root + 'bindings-wasm/pkg/', '/scratch/': work, '/test/': root + 'bindings-wasm/test/' })
let chromium
let wasm
try {
  chromium = await launchChromium()
  const page = await chromium.browser.newPage()
  await page.goto(server.url + '/test/blank.html')
  wasm = await page.evaluate(async ({ n, repeats }) => {
    const { default: init, Model } = await import('/pkg/credit_default.js')
    await init()
    const model = Model.default()
    const rows = new Float64Array(await (await fetch('/scratch/rows.f64')).arrayBuffer())
    model.predictBatch(rows, n) // warm-up (tier-up of the wasm code)
    const times = []
    let sum = 0
    for (let i = 0; i < repeats; i++) {
      const t = performance.now()
      const p = model.predictBatch(rows, n)
      times.push((performance.now() - t) / 1000)
      sum += p[0]
    }
    times.sort((a, b) => a - b)
    return { median_s: times[times.length >> 1], sum }
  }, { n: N, repeats: REPEATS })
} finally {
  await chromium?.close()
  await server.close()
}

const perRow = (sec) => (sec * 1e9) / N
console.log(`batch of ${N} rows, median of ${REPEATS} runs`)
console.log(`  native core (Rust)      ${perRow(native.median_s).toFixed(1)} ns/row`)
if (node !== undefined) console.log(`  Node addon (napi)       ${perRow(node).toFixed(1)} ns/row`)
console.log(`  WASM in Chromium        ${perRow(wasm.median_s).toFixed(1)} ns/row (copy in/out included)`)
console.log(`  ratio WASM / native     ${(wasm.median_s / native.median_s).toFixed(2)}x (target <= 2x)`)
