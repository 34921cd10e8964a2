// The fallback for engines without WebAssembly SIMD, in Node. V8 turns WebAssembly SIMD off when
// the CPU lacks SSE4.1; `--no-enable-sse4-1` makes it behave so (WebAssembly.validate refuses SIMD
// and a module with SIMD fails to compile with "Wasm SIMD unsupported"): a real engine without
// SIMD, not a mock. A child Node runs with that flag and must pick, load and score with the
// non-SIMD module; that the module compiles there is the check that it has no SIMD instruction.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { simdSupported, wasmUrl } from '../pkg/credit_default.js'

const here = fileURLToPath(new URL('./', import.meta.url))

test('feature detection picks the SIMD module where the engine has SIMD', () => {
  assert.equal(simdSupported(), true)
  assert.match(wasmUrl().pathname, /\/credit_default_bg\.wasm$/)
  assert.match(wasmUrl(false).pathname, /\/credit_default_nosimd_bg\.wasm$/)
  assert.match(wasmUrl(true).pathname, /\/credit_default_bg\.wasm$/)
})

test('an engine without SIMD loads the non-SIMD module and scores the shared vectors', () => {
  const out = execFileSync(process.execPath, ['--no-enable-sse4-1', here + 'no-simd-child.mjs'], { encoding: 'utf8' })
  const r = JSON.parse(out)
  // The engine really has no SIMD: the probe is refused and the SIMD module does not compile.
  assert.equal(r.simdSupported, false)
  assert.match(r.simdModuleError, /SIMD/)
  // The entry module chose the non-SIMD file, which compiles there (no v128 instruction in it).
  assert.match(r.chosen, /\/credit_default_nosimd_bg\.wasm$/)
  assert.equal(r.nosimdCompiles, true)
  assert.deepEqual(r.failures, [])
  assert.ok(r.checked > 0)
})
