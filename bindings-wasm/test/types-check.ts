// Compiled with `tsc --noEmit --strict` by `make test-wasm`: the generated .d.ts must describe the
// API as used (a wrong or missing declaration fails).
import init, { initSync, simdSupported, wasmUrl, Batch, Model, type Applicant, type Prediction, type CreditError, type BatchResult, type Explanation, type Feature, type ModelMetrics, type InvalidApplicant } from '../pkg/credit_default.js'

await init()
await init({ defaultModelUrl: null })
await init({ simd: false, defaultModelUrl: null })
const simd: boolean = simdSupported()
const url: URL = wasmUrl(simd)
const auto: URL = wasmUrl()
initSync({ module: new Uint8Array(), defaultModelJson: String(url) + String(auto) })
await init({ module_or_path: new URL('x.wasm', 'https://example.org/'), defaultModelUrl: new URL('m.json', 'https://example.org/') })
initSync({ module: new Uint8Array() })
initSync({ module: new Uint8Array(), defaultModelJson: '{}' })
const model: Model = Model.default()
const m2: Model = Model.fromJson('{}')
const a: Applicant = {
  RevolvingUtilizationOfUnsecuredLines: 0.5, age: 45, NumberOfTime30_59DaysPastDueNotWorse: 0, DebtRatio: 0.3,
  NumberOfOpenCreditLinesAndLoans: 5, NumberOfTimes90DaysLate: 0, NumberRealEstateLoansOrLines: 1, NumberOfTime60_89DaysPastDueNotWorse: 0,
  MonthlyIncome: null,
}
const p: Prediction = model.predict(a)
const d: 0 | 1 = p.prediction
const j: Prediction = model.predictJson('{}')
const many: Array<Prediction | InvalidApplicant> = model.predictMany([a])
const proba: Float64Array = model.predictBatch(new Float64Array(10), 1)
const b: BatchResult = model.scoreBatch(new Float64Array(10), 1)
const inPlace = new Batch(2)
inPlace.data.set(new Float64Array(20))
const valid: number = model.predictInto(inPlace)
const fromWasm: Float64Array = inPlace.probability
const rowsHeld: number = inPlace.nRows
inPlace.free()
const e: Explanation = model.explain(a)
const f: Feature[] = Model.features()
const mm: ModelMetrics = model.metrics
const meta: string = model.version + model.modelId + (m2.checksum ?? '') + model.threshold.toFixed(2)
try { model.predict(a) } catch (err) { const ce = err as CreditError; ce.errors.map((x) => x.field + x.code + x.message) }
// @ts-expect-error age is required
const bad: Applicant = { ...a, age: undefined }
void [valid, fromWasm, rowsHeld, d, j, many, proba, b.invalid, e.contributions, f, mm.cv.auc, meta, bad, p.reasons[0].pointsLost]
