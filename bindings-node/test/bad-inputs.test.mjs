// Whatever a caller passes, the package answers with a CreditError (or a result), never a crash.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { Model } = require('../index.js')
const root = fileURLToPath(new URL('../../', import.meta.url))
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))
const model = Model.default()
const seed = vectors.valid[0].input

/** Asserts `fn` throws a CreditError with `code`; returns the error for more checks. */
function creditError(fn, code) {
  let caught
  assert.throws(fn, (err) => {
    caught = err
    return true
  })
  assert.ok(caught instanceof Error, `not an Error: ${caught}`)
  assert.equal(caught.code, code, caught.message)
  assert.ok(Array.isArray(caught.errors) && caught.errors.length > 0)
  for (const e of caught.errors) {
    assert.equal(typeof e.field, 'string')
    assert.equal(typeof e.code, 'string')
    assert.equal(typeof e.message, 'string')
  }
  return caught
}

test('non-objects are not_an_object', () => {
  for (const bad of [undefined, null, 42, 'age=45', true, [], [seed], () => 1, Symbol('x'), 10n]) {
    const err = creditError(() => model.predict(bad), 'invalid_applicant')
    assert.deepEqual(err.errors.map((e) => e.code), ['not_an_object'], String(typeof bad))
  }
  creditError(() => model.predict(), 'invalid_applicant')
})

test('field values of every JS type', () => {
  const cases = [
    [undefined, 'not_a_number'],
    ['45', 'not_a_number'],
    [{ value: 45 }, 'not_a_number'],
    [[45], 'not_a_number'],
    [() => 45, 'not_a_number'],
    [Symbol('45'), 'not_a_number'],
    [45n, 'not_a_number'],
    [true, 'not_a_number'],
    [NaN, 'not_finite'],
    [Infinity, 'not_finite'],
    [-Infinity, 'not_finite'],
    [1e308, 'out_of_range'],
    [-0.5, 'not_an_integer'],
    [45.5, 'not_an_integer'],
    [new Number(45), 'not_a_number'],
    [new Date(), 'not_a_number'],
  ]
  for (const [value, code] of cases) {
    const err = creditError(() => model.predict({ ...seed, age: value }), 'invalid_applicant')
    assert.deepEqual(err.errors.map((e) => [e.field, e.code]), [['age', code]], String(value?.toString?.() ?? value))
  }
  // null and NaN mean missing for the two optional fields.
  for (const miss of [null, NaN]) {
    const p = model.predict({ ...seed, MonthlyIncome: miss, NumberOfDependents: miss })
    assert.ok(p.probability > 0 && p.probability < 1)
  }
  // -0 is 0, a whole number.
  assert.ok(model.predict({ ...seed, NumberOfDependents: -0 }).probability > 0)
})

test('a huge string, many unknown keys, deep nesting', () => {
  const err = creditError(() => model.predict({ ...seed, age: 'x'.repeat(5_000_000) }), 'invalid_applicant')
  assert.equal(err.errors[0].code, 'not_a_number')
  const many = { ...seed }
  for (let i = 0; i < 2000; i++) many['extra' + i] = i
  const e2 = creditError(() => model.predict(many), 'invalid_applicant')
  assert.equal(e2.errors.length, 2000)
  let deep = {}
  for (let i = 0; i < 10000; i++) deep = { deep }
  creditError(() => model.predict({ ...seed, DebtRatio: deep }), 'invalid_applicant')
  creditError(() => model.predict(deep), 'invalid_applicant')
})

test('objects with getters, prototypes, proxies', () => {
  const withGetter = { ...seed }
  Object.defineProperty(withGetter, 'age', { get: () => 50, enumerable: true })
  assert.ok(model.predict(withGetter).probability > 0)
  const throwing = { ...seed }
  Object.defineProperty(throwing, 'age', { get: () => { throw new RangeError('boom') }, enumerable: true })
  assert.throws(() => model.predict(throwing), /boom/)
  const proxy = new Proxy({}, { ownKeys: () => { throw new TypeError('no keys') } })
  assert.throws(() => model.predict(proxy), /no keys/)
  class Applicant { constructor() { Object.assign(this, seed) } }
  assert.ok(model.predict(new Applicant()).probability > 0)
  assert.ok(model.predict(Object.assign(Object.create(null), seed)).probability > 0)
  // Only own enumerable keys count (as Object.keys lists them, like the browser package).
  const inherited = creditError(() => model.predict(Object.create(seed)), 'invalid_applicant')
  assert.equal(inherited.errors.length, 8)
  assert.ok(inherited.errors.every((e) => e.code === 'missing'))
  const sym = { ...seed, [Symbol('x')]: 1 }
  assert.ok(model.predict(sym).probability > 0)
  assert.match(creditError(() => model.predict({ ...seed, age: 45n }), 'invalid_applicant').errors[0].message, /bigint/)
  // Still alive after the throwing getters.
  assert.ok(model.predict(seed).probability > 0)
})

test('predictMany: not an array, huge arrays, mixed items', () => {
  creditError(() => model.predictMany(seed), 'invalid_argument')
  creditError(() => model.predictMany(undefined), 'invalid_argument')
  const out = model.predictMany([seed, 5, null, { ...seed, age: 17 }])
  assert.ok(out[0].probability > 0)
  assert.equal(out[1].errors[0].code, 'not_an_object')
  assert.equal(out[2].errors[0].code, 'not_an_object')
  assert.deepEqual(out[3].errors.map((e) => e.code), ['out_of_range'])
  const big = model.predictMany(new Array(100_000).fill(seed))
  assert.equal(big.length, 100_000)
  assert.equal(big[99_999].probability, big[0].probability)
  const sparse = model.predictMany(new Array(1000))
  assert.equal(sparse[999].errors[0].code, 'not_an_object')
})

// A JS array's length is the caller's: new Array(2 ** 32 - 1) costs nothing to make, but its
// results could never be held (reserving them aborted the process). predictMany takes at most
// 1,000,000 applicants per call and says so with a catchable CreditError.
test('predictMany: absurd lengths throw a CreditError and the process keeps working', () => {
  for (const n of [2 ** 32 - 1, 2 ** 31, 1_000_001]) {
    const e = creditError(() => model.predictMany(new Array(n)), 'invalid_argument')
    assert.equal(e.errors[0].field, 'applicants')
    assert.match(e.message, /at most 1,000,000/)
  }
  assert.equal(model.predictMany([seed])[0].probability, model.predict(seed).probability)
})

test('predictBatch / scoreBatch argument checks', () => {
  const ok = new Float64Array(vectors.valid[0].row)
  for (const [data, n] of [
    [[...vectors.valid[0].row], 1],
    [new Float32Array(10), 1],
    [ok, 2],
    [ok, 0.5],
    [ok, -1],
    [ok, NaN],
    [ok, '1'],
    [ok, undefined],
    [ok, 2 ** 60],
    [new Float64Array(11), 1],
    [undefined, 1],
    [ok.buffer, 1],
  ]) {
    creditError(() => model.predictBatch(data, n), 'invalid_argument')
    creditError(() => model.scoreBatch(data, n), 'invalid_argument')
  }
  assert.equal(model.predictBatch(new Float64Array(0), 0).length, 0)
  // A view with an offset into a larger buffer.
  const buf = new Float64Array(30)
  buf.set(ok, 10)
  const view = new Float64Array(buf.buffer, 80, 10)
  assert.equal(model.predictBatch(view, 1)[0], model.predictBatch(ok, 1)[0])
  // A large batch in one call; every row all-NaN is invalid, not a crash.
  const n = 1_000_000
  const junk = new Float64Array(n * 10).fill(NaN)
  const r = model.scoreBatch(junk, n)
  assert.equal(r.valid, 0)
  assert.equal(r.invalid.length, n)
})

test('model loading errors', () => {
  creditError(() => Model.load('/nonexistent/model.json'), 'io_error')
  creditError(() => Model.load(42), 'invalid_argument')
  creditError(() => Model.load(), 'invalid_argument')
  creditError(() => Model.fromJson('{not json'), 'invalid_model')
  creditError(() => Model.fromJson('[]'), 'invalid_model')
  creditError(() => Model.fromJson({}), 'invalid_argument')
  // A tampered artifact fails its checksum.
  const text = readFileSync(root + 'models/default.json', 'utf8')
  const art = JSON.parse(text)
  art.intercept += 1
  const err = creditError(() => Model.fromJson(JSON.stringify(art)), 'invalid_model')
  assert.match(err.message, /checksum/)
  const dir = mkdtempSync(join(tmpdir(), 'credit-node-'))
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(art))
  creditError(() => Model.load(join(dir, 'bad.json')), 'invalid_model')
  assert.throws(() => new Model())
})

test('metadata: version, threshold, metrics, features', () => {
  assert.equal(typeof model.version, 'string')
  assert.ok(model.threshold > 0 && model.threshold < 1)
  const m = model.metrics
  assert.ok(m.cv.auc > 0.5 && m.cv.auc <= 1)
  assert.ok(Array.isArray(m.calibration) && m.calibration.length > 0)
  const f = Model.features()
  assert.equal(f.length, 10)
  assert.equal(f[1].name, 'age')
  assert.equal(f[2].alias, 'NumberOfTime30-59DaysPastDueNotWorse')
  assert.deepEqual(f[2].specialCodes, [96, 98])
  // Kaggle aliases are accepted as input.
  const aliased = { ...seed }
  aliased['NumberOfTime30-59DaysPastDueNotWorse'] = aliased.NumberOfTime30_59DaysPastDueNotWorse
  delete aliased.NumberOfTime30_59DaysPastDueNotWorse
  assert.equal(model.predict(aliased).probability, model.predict(seed).probability)
})

test('calling methods on the wrong receiver throws, not crashes', () => {
  assert.throws(() => Model.prototype.predict.call({}, seed))
  assert.throws(() => Model.prototype.predict.call(undefined, seed))
})
