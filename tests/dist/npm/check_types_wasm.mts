// Type-checked (tsc --strict, moduleResolution nodenext, lib esnext + dom: wasm-bindgen's .d.ts
// names Symbol.dispose) inside the fresh project by
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
  return valid + model.predict({
    RevolvingUtilizationOfUnsecuredLines: 0.77, age: 45, NumberOfTime30_59DaysPastDueNotWorse: 2,
    DebtRatio: 0.8, MonthlyIncome: null, NumberOfOpenCreditLinesAndLoans: 13, NumberOfTimes90DaysLate: 0,
    NumberRealEstateLoansOrLines: 6, NumberOfTime60_89DaysPastDueNotWorse: 0,
  }).probability
}
// @ts-expect-error: no such method (the types are real, not `any`)
Model.noSuchMethod()
