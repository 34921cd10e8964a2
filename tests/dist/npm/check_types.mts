// Type-checked (tsc --strict, moduleResolution nodenext) inside the fresh project by
// tests/dist/test_npm.py: the installed `credit-default` ships its types through "exports".
import { Model, type CreditError, type Prediction } from 'credit-default'

const model: Model = Model.default()
const p: Prediction = model.predict({
  RevolvingUtilizationOfUnsecuredLines: 0.77, age: 45, NumberOfTime30_59DaysPastDueNotWorse: 2,
  DebtRatio: 0.8, MonthlyIncome: 9120, NumberOfOpenCreditLinesAndLoans: 13, NumberOfTimes90DaysLate: 0,
  NumberRealEstateLoansOrLines: 6, NumberOfTime60_89DaysPastDueNotWorse: 0, NumberOfDependents: 2,
})
export const probability: number = p.probability
export const codes: string[] = p.reasons.map((r) => r.code)
export const batch: Float64Array = model.predictBatch(new Float64Array(10), 1)
export const fieldOf = (e: CreditError): string[] => e.errors.map((x) => x.field)
// @ts-expect-error: no such method (the types are real, not `any`)
model.noSuchMethod()
