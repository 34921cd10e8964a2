#!/usr/bin/env node
// Packs the npm tarballs of `make dist-npm`: the Node package `credit-default`, the platform
// package(s) of the addon(s) built on this machine (`credit-default-linux-x64-gnu` here) and the
// browser package `credit-default-wasm`. Every package is assembled in a staging directory (never
// in a tracked one) with the repository's LICENSE, then `npm pack`ed into the dist directory.
//
// The Node package's optionalDependencies are written here, as `napi pre-publish` does when it
// publishes: one entry per target of `napi.targets` at the package's own version. They are not in
// the tracked package.json because `npm ci` there (and in examples/node-app, which links it) would
// look for the platform packages, which only exist once published.
//
// Usage: node scripts/pack-npm.mjs <stage-dir> <dist-dir>
// Needs: `make node` (the addon, index.js, index.d.ts, bindings-node/node_modules) and `make wasm`.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const [stageArg, distArg] = process.argv.slice(2)
if (!stageArg || !distArg) {
  console.error('usage: node scripts/pack-npm.mjs <stage-dir> <dist-dir>')
  process.exit(2)
}
const stage = resolve(stageArg)
const dist = resolve(distArg)
const nodeDir = join(root, 'bindings-node')
const wasmPkg = join(root, 'bindings-wasm', 'pkg')
const license = join(root, 'LICENSE')

function fail(msg) {
  console.error(`pack-npm: ${msg}`)
  process.exit(1)
}
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'))
const writeJson = (p, v) => writeFileSync(p, JSON.stringify(v, null, 2) + '\n')

// napi's own target parsing (the same that names the npm/<platform> directories).
const { parseTriple } = createRequire(join(nodeDir, 'package.json'))('@napi-rs/cli')

/** Fails unless every entry of `files` exists in `dir` (npm pack silently skips missing ones). */
function checkFiles(dir, pkg) {
  for (const f of pkg.files ?? []) {
    if (!existsSync(join(dir, f))) fail(`${pkg.name}: "${f}" of "files" is missing in ${dir}`)
  }
}

function pack(dir) {
  const out = execFileSync('npm', ['pack', dir, '--pack-destination', dist, '--json', '--loglevel=error'], {
    encoding: 'utf8',
  })
  const [info] = JSON.parse(out)
  console.log(`dist/${info.filename}: ${info.entryCount} files, ${info.size} bytes (unpacked ${info.unpackedSize})`)
  return info
}

if (!existsSync(license)) fail(`${license} is missing`)
rmSync(stage, { recursive: true, force: true })
mkdirSync(stage, { recursive: true })
mkdirSync(dist, { recursive: true })

// --- The Node package -------------------------------------------------------------------------
const main = readJson(join(nodeDir, 'package.json'))
const targets = main.napi?.targets ?? []
if (targets.length === 0) fail('bindings-node/package.json has no napi.targets')
const platforms = targets.map((t) => parseTriple(t).platformArchABI)
const optionalDependencies = {}
for (const p of platforms) {
  const pj = join(nodeDir, 'npm', p, 'package.json')
  if (!existsSync(pj)) fail(`napi target ${p} has no bindings-node/npm/${p}/package.json`)
  const plat = readJson(pj)
  if (plat.name !== `${main.name}-${p}`) fail(`${pj}: name ${plat.name}, expected ${main.name}-${p}`)
  if (plat.version !== main.version) fail(`${plat.name} is version ${plat.version}, ${main.name} is ${main.version}`)
  optionalDependencies[plat.name] = main.version
}
for (const d of readdirSync(join(nodeDir, 'npm'))) {
  if (!platforms.includes(d)) fail(`bindings-node/npm/${d} is not a target of napi.targets`)
}

// Packages already in dist from an earlier run (any version) are replaced.
const ours = [main.name, ...Object.keys(optionalDependencies), 'credit-default-wasm']
for (const f of readdirSync(dist)) {
  if (ours.some((n) => new RegExp(`^${n}-\\d+\\.\\d+\\.\\d+[^/]*\\.tgz$`).test(f))) rmSync(join(dist, f))
}

const mainStage = join(stage, main.name)
mkdirSync(mainStage)
for (const f of ['index.js', 'index.d.ts', 'README.md']) copyFileSync(join(nodeDir, f), join(mainStage, f))
copyFileSync(license, join(mainStage, 'LICENSE'))
const published = { ...main, optionalDependencies }
delete published.scripts // build scripts of the repository (napi build, prepublishOnly)
delete published.devDependencies
writeJson(join(mainStage, 'package.json'), published)
checkFiles(mainStage, published)
// index.js must look for exactly these platform packages at this version.
const indexJs = readFileSync(join(mainStage, 'index.js'), 'utf8')
for (const name of Object.keys(optionalDependencies)) {
  if (!indexJs.includes(`require('${name}')`)) fail(`index.js does not load ${name}: re-run napi build`)
}
const packed = [pack(mainStage)]

// --- The platform packages of the addons built here -------------------------------------------
const built = readdirSync(nodeDir).filter((f) => f.startsWith(`${main.napi.binaryName}.`) && f.endsWith('.node'))
if (built.length === 0) fail('no bindings-node/*.node: run `make node` first')
for (const addon of built) {
  const p = addon.slice(main.napi.binaryName.length + 1, -'.node'.length)
  if (!platforms.includes(p)) fail(`bindings-node/${addon}: ${p} is not a target of napi.targets`)
  const plat = readJson(join(nodeDir, 'npm', p, 'package.json'))
  if (plat.main !== addon) fail(`${plat.name}: main is ${plat.main}, the addon is ${addon}`)
  const platStage = join(stage, plat.name)
  mkdirSync(platStage)
  copyFileSync(join(nodeDir, 'npm', p, 'README.md'), join(platStage, 'README.md'))
  copyFileSync(join(nodeDir, 'npm', p, 'package.json'), join(platStage, 'package.json'))
  copyFileSync(join(nodeDir, addon), join(platStage, addon))
  copyFileSync(license, join(platStage, 'LICENSE'))
  checkFiles(platStage, plat)
  packed.push(pack(platStage))
}

// --- The browser package ----------------------------------------------------------------------
if (!existsSync(join(wasmPkg, 'package.json'))) fail('no bindings-wasm/pkg: run `make wasm` first')
const wasm = readJson(join(wasmPkg, 'package.json'))
if (wasm.version !== main.version) fail(`${wasm.name} is version ${wasm.version}, ${main.name} is ${main.version}`)
const wasmStage = join(stage, wasm.name)
cpSync(wasmPkg, wasmStage, { recursive: true })
copyFileSync(license, join(wasmStage, 'LICENSE'))
checkFiles(wasmStage, wasm)
// Every file wasm-bindgen wrote must be shipped (a snippets/ directory would need "files" too).
for (const f of readdirSync(wasmStage)) {
  const listed = (wasm.files ?? []).some((g) => g === f || g.startsWith(`${f}/`))
  if (!listed && f !== 'package.json') fail(`bindings-wasm/pkg/${f} is not in the "files" of ${wasm.name}`)
}
packed.push(pack(wasmStage))

console.log(`pack-npm: ${packed.length} tarballs in ${dist}`)
