// The browser package (ES module, --target web) loaded in Node through initSync: the shared test
// vectors and the bad inputs, with the shipped model (pkg/default-model.json) handed to initSync.
// CREDIT_WASM=nosimd runs the same tests against the non-SIMD module (make test-wasm runs both:
// one process holds one instance).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { initSync, Batch, Model } from '../pkg/credit_default.js'
import { checkVectors } from './vectors-check.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))
const WASM_FILES = { simd: 'credit_default_bg.wasm', nosimd: 'credit_default_nosimd_bg.wasm' }
const variant = process.env.CREDIT_WASM ?? 'simd'
if (!WASM_FILES[variant]) throw new Error(`CREDIT_WASM must be simd or nosimd, not ${variant}`)
const wasmBytes = readFileSync(new URL(`../pkg/${WASM_FILES[variant]}`, import.meta.url))
const shippedJson = readFileSync(new URL('../pkg/default-model.json', import.meta.url), 'utf8')

// Before the shipped model is handed over, Model.default() says so (a CreditError, not a trap).
initSync({ module: wasmBytes })
let notLoaded
try {
  Model.default()
} catch (e) {
  notLoaded = e
}
initSync({ module: wasmBytes, defaultModelJson: shippedJson })
const model = Model.default()
const seed = vectors.valid[0].input

test('shared test vectors, every section', () => {
  const { checked, failures } = checkVectors(Model, vectors, Batch)
  assert.deepEqual(failures, [])
  assert.ok(checked >= vectors.valid.length + vectors.invalid.length)
})

test('both wasm files stay within the 150,000-byte budget', () => {
  // The README's size target, enforced for the SIMD and the non-SIMD module alike.
  for (const file of Object.values(WASM_FILES)) {
    const bytes = readFileSync(new URL(`../pkg/${file}`, import.meta.url))
    console.log(`${file}: ${bytes.length} bytes`)
    assert.ok(bytes.length > 100_000, `${file}: ${bytes.length} bytes is not a whole module`)
    assert.ok(bytes.length <= 150_000, `${file}: ${bytes.length} bytes, over the 150,000-byte budget`)
    // The shipped model is a file next to the .wasm, not compiled into it.
    assert.equal(bytes.indexOf(JSON.parse(shippedJson).checksum), -1)
  }
  assert.ok(WebAssembly.validate(wasmBytes), `${variant} module does not validate`)
})

test('the shipped model: default-model.json, loaded by initSync', () => {
  assert.ok(notLoaded instanceof Error)
  assert.equal(notLoaded.name, 'CreditError')
  assert.equal(notLoaded.code, 'invalid_model')
  assert.match(notLoaded.message, /defaultModelJson/)
  assert.deepEqual(notLoaded.errors.map((e) => e.code), ['invalid_model'])
  assert.equal(shippedJson, readFileSync(root + 'models/default.json', 'utf8'), 'pkg/default-model.json is stale: make wasm')
  assert.equal(model.version, vectors.model_version)
  assert.equal(model.checksum, JSON.parse(shippedJson).checksum)
})

function creditError(fn, code) {
  let caught
  assert.throws(fn, (err) => ((caught = err), true))
  assert.ok(caught instanceof Error)
  assert.equal(caught.name, 'CreditError')
  assert.equal(caught.code, code, caught.message)
  assert.ok(Array.isArray(caught.errors) && caught.errors.length > 0)
  return caught
}

test('bad inputs give CreditErrors, never a trap', () => {
  for (const bad of [undefined, null, 42, 'x', true, [], () => 1, Symbol('s'), 5n]) {
    const e = creditError(() => model.predict(bad), 'invalid_applicant')
    assert.deepEqual(e.errors.map((x) => x.code), ['not_an_object'])
  }
  for (const [value, code] of [[undefined, 'not_a_number'], ['45', 'not_a_number'], [{}, 'not_a_number'], [[1], 'not_a_number'], [7n, 'not_a_number'], [NaN, 'not_finite'], [Infinity, 'not_finite'], [45.5, 'not_an_integer'], [1e308, 'out_of_range']]) {
    const e = creditError(() => model.predict({ ...seed, age: value }), 'invalid_applicant')
    assert.deepEqual(e.errors.map((x) => [x.field, x.code]), [['age', code]])
  }
  creditError(() => model.predict({ ...seed, age: 'x'.repeat(1_000_000) }), 'invalid_applicant')
  const throwing = { ...seed }
  Object.defineProperty(throwing, 'age', { get: () => { throw new RangeError('boom') }, enumerable: true })
  assert.throws(() => model.predict(throwing), /boom/)
  const proxy = new Proxy({}, { ownKeys: () => { throw new TypeError('no keys') } })
  assert.throws(() => model.predict(proxy), /no keys/)
  const { proxy: revoked, revoke } = Proxy.revocable({}, {})
  revoke()
  assert.throws(() => model.predict(revoked))
  const inherited = creditError(() => model.predict(Object.create(seed)), 'invalid_applicant')
  assert.equal(inherited.errors.length, 8)
  assert.ok(model.predict({ ...seed, [Symbol('x')]: 1 }).probability > 0)
  assert.match(creditError(() => model.predict({ ...seed, age: 45n }), 'invalid_applicant').errors[0].message, /bigint/)
  // The model still works after the JS exceptions went through it.
  assert.ok(model.predict(seed).probability > 0)
  creditError(() => model.predictMany(seed), 'invalid_argument')
  const many = model.predictMany(new Array(50_000).fill(seed))
  assert.equal(many.length, 50_000)
  for (const [data, n] of [[[...vectors.valid[0].row], 1], [new Float32Array(10), 1], [new Float64Array(10), 2], [new Float64Array(10), -1], [new Float64Array(10), 0.5], [new Float64Array(10), '1'], [new Float64Array(10), 2 ** 60], [undefined, 1], [new DataView(new ArrayBuffer(80)), 1]]) {
    creditError(() => model.predictBatch(data, n), 'invalid_argument')
    creditError(() => model.scoreBatch(data, n), 'invalid_argument')
  }
  creditError(() => Model.fromJson('{'), 'invalid_model')
  creditError(() => Model.fromJson(42), 'invalid_argument')
  const art = JSON.parse(readFileSync(root + 'models/default.json', 'utf8'))
  art.intercept += 1
  assert.match(creditError(() => Model.fromJson(JSON.stringify(art)), 'invalid_model').message, /checksum/)
  assert.equal(Model.fromJson(readFileSync(root + 'models/default.json', 'utf8')).version, vectors.model_version)
})

// A model with interaction cells (testdata/cells-model.json, the core's fixture, kept equal to it
// by credit-core/tests/cells_artifact.rs) scores as the native core scores it: every door of this
// package gives testdata/cells-expected.json's answers (the native core's for the shared vectors'
// applicants, checked against the core by the same Rust test), bit for bit.
test('a model with interaction cells scores as the native core does', () => {
  const cellsJson = readFileSync(root + 'testdata/cells-model.json', 'utf8')
  const expected = JSON.parse(readFileSync(root + 'testdata/cells-expected.json', 'utf8'))
  assert.equal(JSON.parse(cellsJson).interactions.length, 3, 'the fixture has cells')
  const cells = Model.fromJson(cellsJson)
  assert.equal(cells.checksum, expected.model_checksum)
  const cases = vectors.valid
  assert.equal(expected.cases.length, cases.length)
  const n = cases.length
  const rows = new Float64Array(n * 10)
  cases.forEach((c, i) => rows.set(c.row.map((v) => (v === null ? NaN : v)), i * 10))
  const probability = cells.predictBatch(rows, n)
  const scored = cells.scoreBatch(rows, n)
  assert.equal(scored.valid, n)
  const batch = new Batch(n)
  batch.data.set(rows)
  assert.equal(cells.predictInto(batch), n)
  const into = batch.probability.slice()
  batch.free()
  let changed = 0
  cases.forEach((c, i) => {
    const { name, expected: want } = expected.cases[i]
    assert.equal(name, c.name)
    for (const p of [cells.predict(c.input), cells.predictJson(JSON.stringify(c.input))]) {
      assert.equal(p.probability, want.probability, name)
      assert.equal(p.prediction, want.prediction, name)
      assert.equal(p.score, want.score, name)
      assert.deepEqual(p.reasons.map((r) => r.code), want.reasons, name)
    }
    assert.equal(cells.predictMany([c.input])[0].score, want.score, name)
    for (const p of [probability[i], scored.probability[i], into[i]]) assert.equal(p, want.probability, name)
    assert.equal(scored.score[i], want.score, name)
    const e = cells.explain(c.input)
    assert.equal(e.score, want.score, name)
    assert.equal(e.probability, want.probability, name)
    assert.equal(e.interactions.length, 3, name)
    for (const x of e.interactions) {
      assert.deepEqual(Object.keys(x), ['features', 'groups', 'points', 'maxPoints', 'logit'])
      assert.equal(x.features.length, 2)
      assert.ok(x.groups.every((g) => typeof g === 'string' && g.length > 0), name)
      assert.ok(x.points <= x.maxPoints, name)
    }
    // The features' points and the cells' add up to the score.
    const total = e.contributions.reduce((s, x) => s + x.points, 0) + e.interactions.reduce((s, x) => s + x.points, 0)
    assert.ok(Math.abs(total - e.score) < 1e-6, name)
    if (want.score !== c.expected.score) changed++
  })
  assert.ok(changed > 0, 'the cells change scores')
  // A cells model edited after writing is refused by its checksum, as any other model.
  const edited = JSON.parse(cellsJson)
  edited.interactions[0].cells[0].logit += 1
  assert.match(creditError(() => Model.fromJson(JSON.stringify(edited)), 'invalid_model').message, /checksum/)
  // The shipped model explains its eight trained cells; an additive model has none.
  assert.equal(model.explain(seed).interactions.length, JSON.parse(shippedJson).interactions.length)
  assert.ok(model.explain(seed).interactions.length > 0)
  const additive = Model.fromJson(readFileSync(root + 'credit-core/tests/data/additive-1.0.0.json', 'utf8'))
  assert.deepEqual(additive.explain(seed).interactions, [])
  additive.free()
  cells.free()
})

// Absurd sizes: scoreBatch used to copy the whole batch into wasm memory with an infallible
// allocation, which aborted the module (a trap) when it did not fit; predictMany took any array
// length. Both must throw a CreditError, and the module must keep working.
test('scoreBatch and predictMany: absurd lengths throw a CreditError, the module keeps working', () => {
  // 54,000,000 rows: 4.32 GB, more than 32-bit wasm memory can ever hold (the OS maps the zeros
  // lazily: this costs no real memory).
  const rows = 54_000_000
  const huge = new Float64Array(rows * 10)
  const e = creditError(() => model.scoreBatch(huge, rows), 'invalid_argument')
  assert.equal(e.errors[0].field, 'data')
  assert.match(e.message, /wasm memory/)
  for (const n of [2 ** 32 - 1, 1_000_001]) {
    const many = creditError(() => model.predictMany(new Array(n)), 'invalid_argument')
    assert.equal(many.errors[0].field, 'applicants')
    assert.match(many.message, /at most 1,000,000/)
  }
  const { failures } = checkVectors(Model, vectors, Batch)
  assert.deepEqual(failures, [])
  const ok = model.scoreBatch(new Float64Array(vectors.valid[0].row), 1)
  assert.equal(ok.valid, 1)
})

test('Batch: rows in wasm memory, scored in place', () => {
  for (const n of [undefined, null, -1, 0.5, '3', 2 ** 32, NaN, Infinity, 5n, {}]) {
    const e = creditError(() => new Batch(n), 'invalid_argument')
    assert.equal(e.errors[0].field, 'nRows')
  }
  // More rows than wasm memory can hold: an error, not a trap, and the module still works.
  const huge = creditError(() => new Batch(2 ** 32 - 1), 'invalid_argument')
  assert.match(huge.message, /memory/)
  const empty = new Batch(0)
  assert.equal(model.predictInto(empty), 0)
  assert.equal(empty.data.length, 0)
  empty.free()

  const n = 1001
  const batch = new Batch(n)
  assert.equal(batch.nRows, n)
  assert.equal(batch.data.length, n * 10)
  assert.ok(batch.data.every(Number.isNaN), 'a new batch is all NaN')
  const data = new Float64Array(n * 10)
  for (let i = 0; i < n; i++) data.set(vectors.valid[i % vectors.valid.length].row.map((v) => (v === null ? NaN : v)), i * 10)
  data[7 * 10 + 1] = 12 // row 7: age 12 is out of range
  batch.data.set(data)
  // A view is detached when wasm memory grows; the property gives a fresh one.
  const grow = new Batch(1_000_000)
  grow.free()
  assert.equal(batch.data.length, n * 10)
  assert.equal(model.predictInto(batch), n - 1)
  const expected = model.predictBatch(data, n)
  const p = batch.probability.slice()
  for (let i = 0; i < n; i++) assert.ok(Object.is(p[i], expected[i]), `row ${i}`)
  assert.ok(Number.isNaN(p[7]))
  // Another model scores the same batch; a batch is not tied to a model.
  const other = Model.fromJson(shippedJson)
  assert.equal(other.predictInto(batch), n - 1)
  // Anything but a live Batch is refused by wasm-bindgen's own check: a JS Error, not a trap.
  for (const notBatch of [undefined, {}, data, model]) assert.throws(() => model.predictInto(notBatch), /Batch/)
  batch.free()
  assert.throws(() => model.predictInto(batch), Error)
  assert.ok(model.predict(seed).probability > 0)
})

test('results are plain objects with the documented fields', () => {
  const p = model.predict(seed)
  assert.deepEqual(Object.keys(p), ['probability', 'prediction', 'score', 'reasons', 'modelVersion'])
  assert.ok(p.prediction === 0 || p.prediction === 1)
  assert.deepEqual(Object.keys(p.reasons[0]), ['code', 'feature', 'text', 'pointsLost'])
  const e = model.explain({ ...seed, MonthlyIncome: null })
  assert.deepEqual(Object.keys(e), ['modelVersion', 'probability', 'prediction', 'score', 'threshold', 'logOdds', 'basePoints', 'contributions', 'interactions', 'reasons'])
  const income = e.contributions.find((c) => c.feature === 'MonthlyIncome')
  assert.equal(income.value, null)
  assert.deepEqual(Object.keys(income), ['feature', 'value', 'bin', 'points', 'maxPoints', 'logit'])
  assert.ok(e.contributions.every((c) => Number.isFinite(c.points) && Number.isFinite(c.logit)))
  assert.equal(e.probability, model.predict({ ...seed, MonthlyIncome: null }).probability)
  // The points include each feature's share of the base points: with the cells' points (the
  // shipped model has eight pairs) they add up to the score.
  assert.equal(e.interactions.length, JSON.parse(shippedJson).interactions.length)
  assert.deepEqual(Object.keys(e.interactions[0]), ['features', 'groups', 'points', 'maxPoints', 'logit'])
  const total = [...e.contributions, ...e.interactions].reduce((s, c) => s + c.points, 0)
  assert.ok(Math.abs(total - e.score) < 1e-6)
})

test('Model.default() shares one compiled model; freeing one handle leaves the others working', () => {
  const a = Model.default()
  const b = Model.default()
  a.free()
  assert.equal(b.predict(seed).probability, model.predict(seed).probability)
  b.free()
  assert.equal(Model.default().checksum, model.checksum)
})

test('metadata', () => {
  assert.ok(model.threshold > 0 && model.threshold < 1)
  assert.ok(model.metrics.cv.auc > 0.5)
  const f = Model.features()
  assert.equal(f.length, 10)
  assert.deepEqual(f[8].specialCodes, [96, 98])
  assert.equal(f[0].alias, null)
})

// predictBatch runs the SIMD128 kernel (credit-core kernel/simd128.rs) when the .wasm is built
// with it (the non-SIMD module runs the scalar kernel everywhere); scoreBatch (which also wants points) and predict (one applicant) run the scalar
// kernel. All three must agree bit for bit, on rows that probe every verdict: the model's bin
// edges and their neighbours, range ends, fractions, signed zeros, NaN (missing), infinities
// and the bureau codes, mixed in many combinations, with an odd row count (scalar tail).
test('predictBatch (SIMD128 kernel) equals scoreBatch and predict bit for bit', () => {
  const names = Model.features().map((f) => f.name ?? f)
  const artifact = JSON.parse(shippedJson)
  const typical = [0.3, 45, 0, 0.4, 5000, 8, 0, 1, 0, 1]
  const probes = artifact.features.map((card) => {
    const v = [0, -0, 0.5, 1, -1, 18, 17, 120, 121, 95, 96, 97, 98, 99, 200, 201, 50, 51, 100, 101,
      100000, 100000.00000000001, 1000000, 100000000, 100000001, NaN, Infinity, -Infinity,
      Number.MIN_VALUE, 2.2250738585072014e-308, 1e300, 4503599627370496, 7.25, 17.999999999999996]
    for (const e of card.edges ?? []) v.push(e, e * (1 + Number.EPSILON), e * (1 - Number.EPSILON / 2), e * 0.999, e * 1.001)
    return v
  })
  const rows = []
  probes.forEach((list, j) => list.forEach((x) => { const r = typical.slice(); r[j] = x; rows.push(r) }))
  for (let i = 0; i < 4001; i++) {
    rows.push(typical.map((t, j) => ((i * 7 + j * 13) % 5 === 0
      ? probes[j][(i * (j + 3)) % probes[j].length]
      : t * Math.floor(1 + ((i * (j + 1)) % 17) / 4))))
  }
  if (rows.length % 2 === 0) rows.push(typical.slice())
  const n = rows.length
  const data = new Float64Array(rows.flat())
  const fast = model.predictBatch(data, n)
  const slow = model.scoreBatch(data, n)
  const bits = (a) => new BigUint64Array(Float64Array.from(a).buffer)
  const fastBits = bits(fast)
  const slowBits = bits(slow.probability)
  const nanRows = []
  let invalid = 0
  for (let i = 0; i < n; i++) {
    assert.equal(fastBits[i], slowBits[i], `row ${i}: ${rows[i]}`)
    if (Number.isNaN(fast[i])) nanRows.push(i)
    // One applicant: NaN is a missing field (null), as in a batch.
    const obj = Object.fromEntries(names.map((name, j) => [name, Number.isNaN(rows[i][j]) ? null : rows[i][j]]))
    let p
    try {
      p = model.predict(obj).probability
    } catch (e) {
      assert.equal(e.name, 'CreditError')
      invalid++
      assert.ok(Number.isNaN(fast[i]), `row ${i} is invalid but predictBatch gave ${fast[i]}: ${rows[i]}`)
      continue
    }
    assert.ok(Object.is(p, fast[i]), `row ${i}: predict ${p}, predictBatch ${fast[i]}: ${rows[i]}`)
  }
  assert.deepEqual(slow.invalid.map((e) => e.row), nanRows)
  // The probes must exercise both verdicts.
  assert.ok(invalid > 100 && invalid < n - 1000, `${invalid} of ${n} invalid`)
})
