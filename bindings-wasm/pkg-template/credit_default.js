// Entry module of the browser package. wasm-bindgen generates the bindings (credit_default_glue.js,
// which instantiates credit_default_bg.wasm); this module adds only the loading of the shipped
// model, which is not compiled into the .wasm: `init()` fetches default-model.json (next to this
// module) while the .wasm loads, and `initSync` takes its text. `Model.default()` then verifies and
// compiles it in Rust like any artifact given to `Model.fromJson`.
import initGlue, { initSync as initGlueSync, __setDefaultModel } from './credit_default_glue.js'

export { Batch, Model } from './credit_default_glue.js'

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
 * wasm-bindgen's init: URL, Response, bytes or a WebAssembly.Module; default the .wasm next to this
 * module), `defaultModelUrl` (where default-model.json is; `null` = do not load it),
 * `defaultModelJson` (the model text itself, no fetch).
 */
export default async function init(options) {
  const o = isOptions(options) ? options : { module_or_path: options }
  const wasm = initGlue({ module_or_path: o.module_or_path ?? new URL('credit_default_bg.wasm', import.meta.url) })
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
 * Instantiates the module synchronously (`{ module }`: bytes or a WebAssembly.Module), e.g. in Node.
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
