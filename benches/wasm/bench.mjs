// make bench-wasm: per-row time of one 100,000-row batch in headless Chromium (the browser
// package) against the native core (native/, a plain Rust binary) and the Node addon, on the same
// rows. WASM is timed two ways: scoring rows that are already in wasm memory (`Batch` +
// `predictInto`, what the native core does with a borrowed slice) and `predictBatch`, which copies
// a Float64Array in and the probabilities out; both for the SIMD module and the non-SIMD fallback.
// Prints the times and the WASM / native ratios (target: <= 2 for the batch default, Batch).
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
let nosimd
try {
  chromium = await launchChromium()
  // One page per module (a page instantiates one): the SIMD module init() picks here, then the
  // non-SIMD fallback that engines without WebAssembly SIMD load.
  const measure = async (simd) => {
    const page = await chromium.browser.newPage()
    await page.goto(server.url + '/test/blank.html')
    const r = await page.evaluate(async ({ n, repeats, inner, simd }) => {
      const { default: init, Model, Batch } = await import('/pkg/credit_default.js')
      await init({ simd })
      const model = Model.default()
      const rows = new Float64Array(await (await fetch('/scratch/rows.f64')).arrayBuffer())
      // performance.now() is coarse in a page (100 µs), so each sample times `inner` calls.
      const median = (call) => {
        // Warm-up for half a second: V8 compiles the wasm with its baseline compiler first and
        // swaps in the optimised code once it is ready (in the background, which on a small
        // machine competes with the page, as does the garbage collector after the set-up).
        for (const t0 = performance.now(); performance.now() - t0 < 500;) call()
        const times = []
        for (let i = 0; i < repeats; i++) {
          const t = performance.now()
          for (let k = 0; k < inner; k++) call()
          times.push((performance.now() - t) / 1000 / inner)
        }
        times.sort((a, b) => a - b)
        return times[times.length >> 1]
      }
      // predictBatch: the Float64Array is copied into wasm memory, the probabilities out.
      let copied
      const copying = median(() => { copied = model.predictBatch(rows, n) })
      // Batch: the rows are written into wasm memory once, then scored in place.
      const batch = new Batch(n)
      batch.data.set(rows)
      const inPlace = median(() => model.predictInto(batch))
      const p = batch.probability
      // Both paths give the same bits (NaN for the same rows).
      const same = copied.length === p.length && copied.every((x, i) => Object.is(x, p[i]))
      batch.free()
      return { copying_s: copying, in_place_s: inPlace, same }
    }, { n: N, repeats: REPEATS, inner: Number(process.env.BENCH_INNER ?? 5), simd })
    await page.close()
    if (!r.same) throw new Error('predictBatch and predictInto disagree')
    return r
  }
  wasm = await measure(true)
  nosimd = await measure(false)
} finally {
  await chromium?.close()
  await server.close()
}

const perRow = (sec) => (sec * 1e9) / N
console.log(`batch of ${N} rows, median of ${REPEATS} runs`)
console.log(`  native core (Rust)      ${perRow(native.median_s).toFixed(1)} ns/row`)
if (node !== undefined) console.log(`  Node addon (napi)       ${perRow(node).toFixed(1)} ns/row`)
console.log(`  WASM in Chromium        ${perRow(wasm.in_place_s).toFixed(1)} ns/row (Batch + predictInto: rows in wasm memory)`)
console.log(`  WASM, copying           ${perRow(wasm.copying_s).toFixed(1)} ns/row (predictBatch: Float64Array copied in and out)`)
console.log(`  ratio WASM / native     ${(wasm.in_place_s / native.median_s).toFixed(2)}x in place (target <= 2x), ${(wasm.copying_s / native.median_s).toFixed(2)}x copying`)
console.log(`  non-SIMD .wasm          ${perRow(nosimd.in_place_s).toFixed(1)} ns/row in place, ${perRow(nosimd.copying_s).toFixed(1)} ns/row copying (${(nosimd.in_place_s / native.median_s).toFixed(2)}x, ${(nosimd.copying_s / native.median_s).toFixed(2)}x native)`)
