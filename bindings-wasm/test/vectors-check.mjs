// Asserts the shared test vectors (testdata/vectors.json, every section) against a `Model` class of
// the browser package. Plain ES module with no Node imports: the Node test and the Chromium test
// run this same file and report what it returns.

/** A few ulps, as the vectors' contract says. */
const closeProba = (a, b) => Math.abs(a - b) <= 4 * Number.EPSILON * Math.max(Math.abs(a), Math.abs(b))
const closeScore = (a, b) => Math.abs(a - b) <= 1e-9
const pairs = (errors) => JSON.stringify(errors.map((e) => `${e.field}|${e.code}`).sort())
/** Vector rows spell NaN as null and infinities as strings. */
const num = (v) => (v === null ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v)

/**
 * Returns `{ checked, failures }`; `failures` lists every mismatch (empty when all pass). With
 * `Batch` (the browser package's zero-copy batch), `predictInto` is checked on the same rows.
 */
export function checkVectors(Model, vectors, Batch) {
  const failures = []
  let checked = 0
  const fail = (name, what) => failures.push(`${name}: ${what}`)
  const expectThrow = (name, fn, errors) => {
    try {
      fn()
      fail(name, 'did not throw')
    } catch (err) {
      if (!(err instanceof Error)) fail(name, `threw a non-Error ${err}`)
      else if (err.code !== 'invalid_applicant') fail(name, `code ${err.code}`)
      else if (pairs(err.errors) !== pairs(errors)) fail(name, `errors ${pairs(err.errors)} != ${pairs(errors)}`)
    }
  }
  const model = Model.default()
  if (model.version !== vectors.model_version) fail('model', `version ${model.version} != ${vectors.model_version}`)
  if (model.checksum !== vectors.model_checksum) fail('model', `checksum ${model.checksum}`)

  for (const v of vectors.valid) {
    checked++
    let p
    try {
      p = model.predict(v.input)
    } catch (err) {
      fail(v.name, `threw ${err.message}`)
      continue
    }
    if (!closeProba(p.probability, v.expected.probability)) fail(v.name, `probability ${p.probability} != ${v.expected.probability}`)
    if (!closeScore(p.score, v.expected.score)) fail(v.name, `score ${p.score} != ${v.expected.score}`)
    if (p.prediction !== v.expected.prediction) fail(v.name, `prediction ${p.prediction}`)
    const codes = JSON.stringify(p.reasons.map((r) => r.code))
    if (codes !== JSON.stringify(v.expected.reasons)) fail(v.name, `reasons ${codes}`)
    if (p.modelVersion !== vectors.model_version) fail(v.name, 'modelVersion')
    const j = model.predictJson(JSON.stringify(v.input))
    if (j.probability !== p.probability || j.score !== p.score) fail(v.name, 'predictJson differs')
    const e = model.explain(v.input)
    if (e.probability !== p.probability || e.contributions.length !== 10) fail(v.name, 'explain differs')
  }

  const n = vectors.valid.length
  const data = new Float64Array(n * 10)
  vectors.valid.forEach((v, i) => data.set(v.row.map(num), i * 10))
  const proba = model.predictBatch(data, n)
  const batch = model.scoreBatch(data, n)
  if (!(proba instanceof Float64Array) || proba.length !== n) fail('predictBatch', 'not a Float64Array of n')
  if (batch.valid !== n || batch.invalid.length !== 0) fail('scoreBatch', `valid ${batch.valid}`)
  vectors.valid.forEach((v, i) => {
    if (!closeProba(proba[i], v.expected.probability)) fail(v.name, `batch probability ${proba[i]}`)
    if (!closeScore(batch.score[i], v.expected.score)) fail(v.name, `batch score ${batch.score[i]}`)
  })
  if (Batch) {
    // The rows written into wasm memory and scored in place: the same bits as predictBatch.
    const inPlace = new Batch(n)
    if (inPlace.nRows !== n) fail('Batch', `nRows ${inPlace.nRows}`)
    if (!Number.isNaN(inPlace.probability[0])) fail('Batch', 'probability is not NaN before predictInto')
    inPlace.data.set(data)
    const valid = model.predictInto(inPlace)
    if (valid !== n) fail('predictInto', `valid ${valid}`)
    const p = inPlace.probability
    vectors.valid.forEach((v, i) => {
      if (!Object.is(p[i], proba[i])) fail(v.name, `predictInto ${p[i]} != predictBatch ${proba[i]}`)
    })
    inPlace.free()
  }
  const many = model.predictMany(vectors.valid.map((v) => v.input))
  many.forEach((p, i) => {
    if (!closeProba(p.probability, vectors.valid[i].expected.probability)) fail(vectors.valid[i].name, 'predictMany')
  })

  for (const v of vectors.invalid) {
    checked++
    expectThrow(v.name, () => model.predict(v.input), v.errors)
    expectThrow(v.name + ' (json)', () => model.predictJson(JSON.stringify(v.input)), v.errors)
    const [m] = model.predictMany([v.input])
    if (!m.errors || pairs(m.errors) !== pairs(v.errors)) fail(v.name, 'predictMany errors')
  }

  const rows = vectors.invalid_rows
  const bad = new Float64Array(rows.length * 10)
  rows.forEach((v, i) => bad.set(v.row.map(num), i * 10))
  const bp = model.predictBatch(bad, rows.length)
  const br = model.scoreBatch(bad, rows.length)
  if (Batch) {
    const inPlace = new Batch(rows.length)
    inPlace.data.set(bad)
    if (model.predictInto(inPlace) !== 0) fail('predictInto', 'invalid rows counted as valid')
    if (!inPlace.probability.every(Number.isNaN)) fail('predictInto', 'an invalid row is not NaN')
    inPlace.free()
  }
  rows.forEach((v, i) => {
    checked++
    if (!Number.isNaN(bp[i]) || !Number.isNaN(br.score[i])) fail(v.name, 'not NaN')
    const inv = br.invalid.find((r) => r.row === i)
    if (!inv || pairs(inv.errors) !== pairs(v.errors)) fail(v.name, `row errors ${inv && pairs(inv.errors)}`)
  })

  for (const v of vectors.invalid_json) {
    checked++
    expectThrow(v.name, () => model.predictJson(v.text), v.errors)
  }
  if (vectors.valid.length === 0 || vectors.invalid.length === 0 || rows.length === 0 || vectors.invalid_json.length === 0) {
    fail('vectors', 'a section is empty')
  }
  return { checked, failures }
}
