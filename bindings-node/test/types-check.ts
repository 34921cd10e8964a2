// Compiled with `tsc --noEmit --strict` by `make test-node`: index.d.ts must describe the API as
// the tests use it (a wrong or missing declaration fails the build).
import { Model, type Applicant, type Prediction, type CreditError, type Explanation, type BatchResult, type Feature, type ModelMetrics, type InvalidApplicant } from '../index.js'

const model: Model = Model.default()
const other: Model = Model.load('models/default.json')
const third: Model = Model.fromJson('{}')
const applicant: Applicant = {
  RevolvingUtilizationOfUnsecuredLines: 0.766127,
  age: 45,
  NumberOfTime30_59DaysPastDueNotWorse: 2,
  DebtRatio: 0.802982,
  MonthlyIncome: null,
  NumberOfOpenCreditLinesAndLoans: 13,
  NumberOfTimes90DaysLate: 0,
  NumberRealEstateLoansOrLines: 6,
  NumberOfTime60_89DaysPastDueNotWorse: 0,
}
const p: Prediction = model.predict(applicant)
const decision: 0 | 1 = p.prediction
const codes: string[] = p.reasons.map((r) => r.code + r.feature + r.text + r.pointsLost.toFixed(1))
const version: string = p.modelVersion + model.version + other.modelId + (third.checksum ?? '')
const j: Prediction = model.predictJson('{}')
const many: Array<Prediction | InvalidApplicant> = model.predictMany([applicant])
for (const m of many) {
  if ('errors' in m) m.errors.map((e) => e.field + e.code + e.message)
  else m.probability.toFixed(3)
}
const proba: Float64Array = model.predictBatch(new Float64Array(10), 1)
const batch: BatchResult = model.scoreBatch(new Float64Array(10), 1)
const rows: number = batch.rows + batch.valid + batch.invalid.length + batch.score[0] + batch.probability[0]
const e: Explanation = model.explain(applicant)
const pts: number = e.contributions.reduce((s, c) => s + c.points - c.maxPoints + (c.value ?? 0), e.basePoints)
const metrics: ModelMetrics = model.metrics
const auc: number = metrics.cv.auc + metrics.cvAucMean + metrics.calibration[0].observedRate + model.threshold
const features: Feature[] = Model.features()
const range: string = features.map((f) => `${f.name} ${f.alias ?? ''} ${f.kind} ${f.min}..${f.max} ${f.specialCodes.join()}`).join()
try {
  model.predict(applicant)
} catch (err) {
  const ce = err as CreditError
  const code: 'invalid_applicant' | 'invalid_argument' | 'invalid_model' | 'io_error' = ce.code
  ce.errors.forEach((x) => x.field + x.code + x.message + String(x.value))
  void code
}
// @ts-expect-error a number is not a path
Model.load(1)
// @ts-expect-error age is required
const missingAge: Applicant = { ...applicant, age: undefined }
void [decision, codes, version, j, proba, rows, pts, auc, range, missingAge]
