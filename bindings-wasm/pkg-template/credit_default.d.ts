/* Types of the entry module (credit_default.js); the bindings' own types come from wasm-bindgen. */
export * from './credit_default_glue.js'
import type { InitInput, InitOutput, SyncInitInput } from './credit_default_glue.js'

/** What `init()` loads. */
export interface InitOptions {
  /** The .wasm (URL, Response, bytes or a compiled module); default `wasmUrl(simd)`, next to this module. */
  module_or_path?: InitInput | Promise<InitInput>
  /** `true` / `false`: load the SIMD / non-SIMD module whatever `simdSupported()` says (default: detect). */
  simd?: boolean
  /** Where the shipped model is; default `default-model.json` next to this module; `null`: do not load it. */
  defaultModelUrl?: string | URL | null
  /** The shipped model's JSON text itself (then nothing is fetched for it). */
  defaultModelJson?: string
}

/** Whether this engine runs WebAssembly SIMD (`init()` loads the non-SIMD module where it does not). */
export function simdSupported(): boolean

/** URL of the .wasm for an engine with (`simd` true) or without SIMD; default: the one this engine runs. */
export function wasmUrl(simd?: boolean): URL

/** What `initSync()` takes. */
export interface InitSyncOptions {
  module: SyncInitInput
  /** The shipped model's JSON text (default-model.json), needed for `Model.default()`. */
  defaultModelJson?: string
}

/**
 * Instantiates the module and loads the shipped model (for `Model.default()`) in parallel. A model
 * that cannot be fetched does not fail `init()`: `Model.default()` throws a `CreditError`
 * (`invalid_model`) saying why.
 */
export default function init(options?: InitOptions | InitInput | Promise<InitInput>): Promise<InitOutput>

/** Instantiates the module synchronously (e.g. in Node, with the bytes of `wasmUrl()`); pass `defaultModelJson` to use `Model.default()`. */
export function initSync(options: InitSyncOptions | SyncInitInput): InitOutput
