// Type-checked (tsc --strict, moduleResolution nodenext) inside the fresh project by
// tests/dist/test_npm.py: the installed `credit-default-wasm` ships its types through "exports".
import init, { Batch, Model, initSync, type InitOptions } from 'credit-default-wasm'

const options: InitOptions = { defaultModelUrl: null }
export const ready: Promise<unknown> = init(options)
export const sync: typeof initSync = initSync
export function score(model: Model, rows: Float64Array, n: number): number {
  const batch = new Batch(n)
  batch.data.set(rows)
  const valid: number = model.predictInto(batch)
  batch.free()
  return valid + model.predict({ age: 45 }).probability
}
// @ts-expect-error: no such method (the types are real, not `any`)
Model.noSuchMethod()
