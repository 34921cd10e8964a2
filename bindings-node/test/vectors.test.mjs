// The shared test vectors (testdata/vectors.json), every section, through the Node package.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { Model } = require('../index.js')
const root = fileURLToPath(new URL('../../', import.meta.url))
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))
const model = Model.load(root + vectors.model)
/** The shipped model's interaction pairs (eight since model 1.1.0). */
const cellPairs = JSON.parse(readFileSync(root + vectors.model, 'utf8')).interactions.length
assert.ok(cellPairs > 0, 'the shipped model has interaction cells')

/** A few ulps, as the vectors' contract says. */
function closeProba(a, b, what) {
  assert.ok(Math.abs(a - b) <= 4 * Number.EPSILON * Math.max(Math.abs(a), Math.abs(b)), `${what}: ${a} != ${b}`)
}
function closeScore(a, b, what) {
  assert.ok(Math.abs(a - b) <= 1e-9, `${what}: score ${a} != ${b}`)
}
const pairs = (errors) => errors.map((e) => `${e.field}|${e.code}`).sort()
/** Vector rows spell NaN as null and infinities as strings. */
const num = (v) => (v === null ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v)

test('the model is the one the vectors were made with', () => {
  assert.equal(model.version, vectors.model_version)
  assert.equal(model.checksum, vectors.model_checksum)
})

test('Model.default() is the shipped model, compiled once and shared', () => {
  const d = Model.default()
  assert.equal(d.version, vectors.model_version)
  assert.equal(d.checksum, vectors.model_checksum)
  const applicant = vectors.valid[0].input
  const many = Array.from({ length: 1000 }, () => Model.default())
  assert.ok(many.every((m) => m.predict(applicant).probability === d.predict(applicant).probability))
})

test('valid vectors: predict, predictJson, explain', () => {
  assert.ok(vectors.valid.length > 0)
  for (const v of vectors.valid) {
    const p = model.predict(v.input)
    closeProba(p.probability, v.expected.probability, v.name)
    closeScore(p.score, v.expected.score, v.name)
    assert.equal(p.prediction, v.expected.prediction, v.name)
    assert.deepEqual(p.reasons.map((r) => r.code), v.expected.reasons, v.name)
    assert.equal(p.modelVersion, vectors.model_version)
    for (const r of p.reasons) {
      assert.equal(typeof r.text, 'string')
      assert.ok(r.pointsLost > 0, v.name)
    }
    const j = model.predictJson(JSON.stringify(v.input))
    assert.equal(j.probability, p.probability, v.name)
    assert.equal(j.score, p.score, v.name)
    const e = model.explain(v.input)
    assert.equal(e.probability, p.probability, v.name)
    assert.equal(e.contributions.length, 10)
    // The shipped model's cells: one per pair; the features' and the cells' points add up to the score.
    assert.equal(e.interactions.length, cellPairs)
    const total = [...e.contributions, ...e.interactions].reduce((s, c) => s + c.points, 0)
    assert.ok(Math.abs(total - e.score) < 1e-6, v.name)
    assert.deepEqual(e.reasons.map((r) => r.code), v.expected.reasons, v.name)
  }
})

test('valid vectors: predictMany', () => {
  const out = model.predictMany(vectors.valid.map((v) => v.input))
  assert.equal(out.length, vectors.valid.length)
  out.forEach((p, i) => {
    const v = vectors.valid[i]
    closeProba(p.probability, v.expected.probability, v.name)
    assert.equal(p.prediction, v.expected.prediction, v.name)
  })
})

test('valid vectors: predictBatch and scoreBatch over one Float64Array', () => {
  const n = vectors.valid.length
  const data = new Float64Array(n * 10)
  vectors.valid.forEach((v, i) => data.set(v.row.map(num), i * 10))
  const proba = model.predictBatch(data, n)
  assert.ok(proba instanceof Float64Array)
  assert.equal(proba.length, n)
  const batch = model.scoreBatch(data, n)
  assert.equal(batch.rows, n)
  assert.equal(batch.valid, n)
  assert.deepEqual(batch.invalid, [])
  vectors.valid.forEach((v, i) => {
    closeProba(proba[i], v.expected.probability, v.name)
    closeProba(batch.probability[i], v.expected.probability, v.name)
    closeScore(batch.score[i], v.expected.score, v.name)
  })
})

test('invalid vectors: predict throws a CreditError listing every field error', () => {
  assert.ok(vectors.invalid.length > 0)
  for (const v of vectors.invalid) {
    assert.throws(
      () => model.predict(v.input),
      (err) => {
        assert.ok(err instanceof Error, v.name)
        assert.equal(err.code, 'invalid_applicant', v.name)
        assert.equal(err.name, 'CreditError')
        assert.deepEqual(pairs(err.errors), pairs(v.errors), v.name)
        for (const e of err.errors) assert.equal(typeof e.message, 'string')
        return true
      },
    )
    const [many] = model.predictMany([v.input])
    assert.deepEqual(pairs(many.errors), pairs(v.errors), v.name)
    assert.throws(() => model.predictJson(JSON.stringify(v.input)), (err) => {
      assert.deepEqual(pairs(err.errors), pairs(v.errors), v.name)
      return true
    })
  }
})

test('invalid_rows vectors: NaN from predictBatch, the errors from scoreBatch', () => {
  const rows = vectors.invalid_rows
  assert.ok(rows.length > 0)
  const data = new Float64Array(rows.length * 10)
  rows.forEach((v, i) => data.set(v.row.map(num), i * 10))
  const proba = model.predictBatch(data, rows.length)
  const batch = model.scoreBatch(data, rows.length)
  assert.equal(batch.valid, 0)
  rows.forEach((v, i) => {
    assert.ok(Number.isNaN(proba[i]), v.name)
    assert.ok(Number.isNaN(batch.score[i]), v.name)
    const inv = batch.invalid.find((r) => r.row === i)
    assert.ok(inv, v.name)
    assert.deepEqual(pairs(inv.errors), pairs(v.errors), v.name)
  })
})

test('invalid_json vectors: predictJson reports them', () => {
  assert.ok(vectors.invalid_json.length > 0)
  for (const v of vectors.invalid_json) {
    assert.throws(
      () => model.predictJson(v.text),
      (err) => {
        assert.equal(err.code, 'invalid_applicant', v.name)
        assert.deepEqual(pairs(err.errors), pairs(v.errors), v.name)
        return true
      },
    )
  }
})
