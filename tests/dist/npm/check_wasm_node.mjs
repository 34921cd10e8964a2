// Run by tests/dist/test_npm.py inside the fresh project: the installed `credit-default-wasm` in
// Node, loaded as its README says (initSync with the .wasm and the model found through "exports").
// Prints JSON on stdout. Usage: node check_wasm_node.mjs <vectors.json>
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { initSync, Model } from 'credit-default-wasm'

const vectors = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const file = createRequire(import.meta.url).resolve
initSync({ module: readFileSync(file('credit-default-wasm/credit_default_bg.wasm')),
  defaultModelJson: readFileSync(file('credit-default-wasm/default-model.json'), 'utf8') })
const model = Model.default()
process.stdout.write(JSON.stringify({
  resolved: file('credit-default-wasm/package.json'),
  valid: vectors.valid.map((v) => ({ name: v.name, probability: model.predict(v.input).probability })),
}))
