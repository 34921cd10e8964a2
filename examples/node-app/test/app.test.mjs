// The example app over real HTTP on a free loopback port, checked against the shared test vectors.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createApp } from '../server.mjs'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const vectors = JSON.parse(readFileSync(root + 'testdata/vectors.json', 'utf8'))
let server
let url

before(async () => {
  server = createApp()
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${server.address().port}`
})
after(() => new Promise((r) => server.close(r)))

const post = (body) => fetch(url + '/score', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
const pairs = (errors) => errors.map((e) => `${e.field}|${e.code}`).sort()

test('health', async () => {
  const r = await fetch(url + '/health')
  assert.equal(r.status, 200)
  assert.equal((await r.json()).modelVersion, vectors.model_version)
})

test('valid vectors score as expected', async () => {
  for (const v of vectors.valid) {
    const r = await post(JSON.stringify(v.input))
    assert.equal(r.status, 200, v.name)
    const b = await r.json()
    const e = v.expected.probability
    assert.ok(Math.abs(b.probability - e) <= 4 * Number.EPSILON * Math.max(b.probability, e), v.name)
    assert.ok(Math.abs(b.score - v.expected.score) <= 1e-9, v.name)
    assert.equal(b.prediction, v.expected.prediction, v.name)
    assert.deepEqual(b.reasons, v.expected.reasons, v.name)
  }
})

test('invalid vectors and invalid JSON give 422 with the field errors', async () => {
  for (const v of vectors.invalid) {
    const r = await post(JSON.stringify(v.input))
    assert.equal(r.status, 422, v.name)
    assert.deepEqual(pairs((await r.json()).errors), pairs(v.errors), v.name)
  }
  for (const v of vectors.invalid_json) {
    const r = await post(v.text)
    assert.equal(r.status, 422, v.name)
    assert.deepEqual(pairs((await r.json()).errors), pairs(v.errors), v.name)
  }
})

test('unknown routes and huge bodies', async () => {
  assert.equal((await fetch(url + '/nope')).status, 404)
  // A body over 64 KB must get a real 413 answer: a dropped connection is a failure, not a pass.
  for (const size of [100_000, 1_000_000, 10_000_000]) {
    const r = await post('{"age": "' + 'x'.repeat(size) + '"}')
    assert.equal(r.status, 413, `${size}-byte body`)
    assert.deepEqual(await r.json(), { error: 'body too large' })
  }
  // The server still answers afterwards.
  assert.equal((await post(JSON.stringify(vectors.valid[0].input))).status, 200)
})
