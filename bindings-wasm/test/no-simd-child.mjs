// Run by fallback.test.mjs as `node --no-enable-sse4-1 no-simd-child.mjs` (an engine without
// WebAssembly SIMD): prints what it found as JSON.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { initSync, simdSupported, wasmUrl, Batch, Model } from '../pkg/credit_default.js'
import { checkVectors } from './vectors-check.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
let simdModuleError = null
try {
  new WebAssembly.Module(readFileSync(new URL('../pkg/credit_default_bg.wasm', import.meta.url)))
} catch (e) {
  simdModuleError = e.message
}
const chosen = wasmUrl()
const bytes = readFileSync(chosen)
let nosimdCompiles = false
try {
  new WebAssembly.Module(bytes)
  nosimdCompiles = true
} catch {
  // reported as false
}
initSync({ module: bytes, defaultModelJson: readFileSync(new URL('../pkg/default-model.json', import.meta.url), 'utf8') })
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))
const { checked, failures } = checkVectors(Model, vectors, Batch)
console.log(JSON.stringify({ simdSupported: simdSupported(), simdModuleError, chosen: chosen.pathname, nosimdCompiles, checked, failures }))
