// Entry module of the browser package. wasm-bindgen generates the bindings (credit_default_glue.js,
// which instantiates the .wasm); this module adds the choice of .wasm and the loading of the
// shipped model. Two modules come with the package, built from the same sources:
// credit_default_bg.wasm uses WebAssembly SIMD (a faster batch kernel), which an engine without
// SIMD refuses to compile; credit_default_nosimd_bg.wasm does not. `init()` picks one by feature
// detection. The shipped model is not compiled into the .wasm: `init()` fetches default-model.json
// (next to this module) while the .wasm loads, and `initSync` takes its text. `Model.default()`
// then verifies and compiles it in Rust like any artifact given to `Model.fromJson`.
import initGlue, { initSync as initGlueSync, __setDefaultModel } from './credit_default_glue.js'

export { Batch, Model } from './credit_default_glue.js'

/**
 * The smallest module with a SIMD instruction (a function returning `i8x16.popcnt(i8x16.splat(0))`):
 * an engine validates it only when it runs WebAssembly SIMD.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
])

/** Whether this engine runs WebAssembly SIMD (what `init()` decides with). */
export function simdSupported() {
  return WebAssembly.validate(SIMD_PROBE)
}

/**
 * The URL of the .wasm for an engine with (`simd` true) or without SIMD; by default, for this one.
 * For `initSync`, e.g. in Node: `initSync({ module: readFileSync(wasmUrl()) })`.
 */
export function wasmUrl(simd = simdSupported()) {
  return new URL(simd ? 'credit_default_bg.wasm' : 'credit_default_nosimd_bg.wasm', import.meta.url)
}

const isOptions = (x) => x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype
let defaultModelLoaded = false

/** `{ text }`, or `{ problem }` for `Model.default()` to throw: a failed fetch does not fail `init()`. */
async function fetchModel(url) {
  try {
    const response = await fetch(url)
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim())
    return { text: await response.text() }
  } catch (err) {
    return { problem: `The default model could not be loaded from ${url}: ${err?.message ?? err}` }
  }
}

/**
 * Loads the .wasm and the shipped model in parallel. Options (all optional): `module_or_path` (as
 * wasm-bindgen's init: URL, Response, bytes or a WebAssembly.Module; default `wasmUrl(simd)`, the
 * .wasm next to this module that this engine can run), `simd` (`true` / `false`: take the SIMD /
 * non-SIMD module whatever the detection says), `defaultModelUrl` (where default-model.json is;
 * `null` = do not load it), `defaultModelJson` (the model text itself, no fetch).
 */
export default async function init(options) {
  const o = isOptions(options) ? options : { module_or_path: options }
  const wasm = initGlue({ module_or_path: o.module_or_path ?? wasmUrl(o.simd ?? simdSupported()) })
  let model
  if (typeof o.defaultModelJson === 'string') model = { text: o.defaultModelJson }
  else if (o.defaultModelUrl !== null && (o.defaultModelUrl !== undefined || !defaultModelLoaded)) {
    model = fetchModel(o.defaultModelUrl ?? new URL('default-model.json', import.meta.url))
  }
  const [exports, m] = await Promise.all([wasm, model])
  if (m) {
    __setDefaultModel(m.text, m.problem)
    defaultModelLoaded ||= m.text !== undefined
  }
  return exports
}

/**
 * Instantiates the module synchronously (`{ module }`: bytes or a WebAssembly.Module, e.g. in Node
 * the bytes of `wasmUrl()`).
 * `defaultModelJson` is the shipped model's text (default-model.json) for `Model.default()`.
 */
export function initSync(options) {
  const o = isOptions(options) ? options : { module: options }
  const exports = initGlueSync({ module: o.module })
  if (typeof o.defaultModelJson === 'string') {
    __setDefaultModel(o.defaultModelJson)
    defaultModelLoaded = true
  }
  return exports
}
