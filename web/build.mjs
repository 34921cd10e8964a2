// Builds the static site web/dist/: the page's sources plus the browser package (bindings-wasm/pkg,
// built by `make wasm`) under assets/. The result needs no server: any static host works.
import { cpSync, existsSync, mkdirSync, rmSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const web = fileURLToPath(new URL('./', import.meta.url))
const pkg = fileURLToPath(new URL('../bindings-wasm/pkg/', import.meta.url))
const dist = web + 'dist/'
if (!existsSync(pkg + 'credit_default_bg.wasm')) {
  console.error('bindings-wasm/pkg is missing: run `make wasm` first')
  process.exit(1)
}
rmSync(dist, { recursive: true, force: true })
mkdirSync(dist + 'assets', { recursive: true })
cpSync(web + 'src/index.html', dist + 'index.html')
for (const f of readdirSync(web + 'src')) if (f !== 'index.html') cpSync(web + 'src/' + f, dist + 'assets/' + f)
// The entry module, the wasm-bindgen glue it imports, the two .wasm files (SIMD and non-SIMD: the
// entry module picks one), the shipped model it fetches, types.
for (const f of ['credit_default.js', 'credit_default_glue.js', 'credit_default_bg.wasm', 'credit_default_nosimd_bg.wasm', 'default-model.json', 'credit_default.d.ts']) cpSync(pkg + f, dist + 'assets/' + f)
console.log('web/dist built')
