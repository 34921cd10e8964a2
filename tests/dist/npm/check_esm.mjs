// Run by tests/dist/test_npm.py inside the fresh project: the installed `credit-default` through
// an ES module import (named and default import), one shared vector. Prints JSON on stdout.
// Usage: node check_esm.mjs <vectors.json>
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import cd, { Model } from 'credit-default'

const vectors = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const v = vectors.valid[0]
process.stdout.write(JSON.stringify({
  resolved: fileURLToPath(import.meta.resolve('credit-default')),
  sameModel: cd.Model === Model,
  name: v.name,
  probability: Model.default().predict(v.input).probability,
}))
