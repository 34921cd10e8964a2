// Run by tests/dist/test_npm.py inside a fresh project where the `credit-default` tarballs were
// installed: loads the package with require() and prints (JSON on stdout) where it came from and
// what it answers for every shared test vector. The test compares.
// Usage: node check_node.cjs <vectors.json>
'use strict'
const { readFileSync } = require('node:fs')

const vectors = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const resolved = require.resolve('credit-default')
const pkg = require('credit-default/package.json')
const binding = require('credit-default')
const { Model } = binding
const model = Model.default()

const num = (v) => (v === null ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v)
const rows = new Float64Array(vectors.valid.length * 10)
vectors.valid.forEach((v, i) => rows.set(v.row.map(num), i * 10))

const out = {
  resolved,
  version: pkg.version,
  // The native addons this process loaded (require.cache holds their absolute paths).
  addons: Object.keys(require.cache).filter((f) => f.endsWith('.node')),
  bindingTarget: binding.__napiBindingTarget,
  modelVersion: model.version,
  checksum: model.checksum,
  valid: vectors.valid.map((v) => {
    const p = model.predict(v.input)
    return { name: v.name, probability: p.probability, score: p.score, prediction: p.prediction,
      reasons: p.reasons.map((r) => r.code) }
  }),
  batch: Array.from(model.predictBatch(rows, vectors.valid.length)),
  invalid: vectors.invalid.map((v) => {
    try {
      model.predict(v.input)
      return { name: v.name, threw: false }
    } catch (e) {
      return { name: v.name, threw: true, isError: e instanceof Error, errName: e.name, code: e.code,
        errors: (e.errors ?? []).map((x) => [x.field, x.code]) }
    }
  }),
}
process.stdout.write(JSON.stringify(out))
