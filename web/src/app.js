// The scoring page: every keystroke validates and scores the applicant in the browser through the
// WebAssembly package (the same Rust core as the REST service); an optional switch asks the server.
// The model: when `credit serve` serves the page, the artifact it scores with (`/model/artifact`),
// re-checked with its ETag on focus, on becoming visible and every minute, so a promoted and
// reloaded model reaches the page; on a static host (no such URL), the copy bundled at build time.
import init, { Model } from './credit_default.js'

/** Short labels for the ten features (descriptions and ranges come from the package). */
const LABELS = {
  RevolvingUtilizationOfUnsecuredLines: 'Revolving utilization',
  age: 'Age',
  NumberOfTime30_59DaysPastDueNotWorse: 'Times 30–59 days late',
  DebtRatio: 'Debt ratio',
  MonthlyIncome: 'Monthly income',
  NumberOfOpenCreditLinesAndLoans: 'Open credit lines and loans',
  NumberOfTimes90DaysLate: 'Times 90+ days late',
  NumberRealEstateLoansOrLines: 'Real-estate loans or lines',
  NumberOfTime60_89DaysPastDueNotWorse: 'Times 60–89 days late',
  NumberOfDependents: 'Dependents',
}
/** The example the seed's Gradio page was pre-filled with. */
const EXAMPLE = {
  RevolvingUtilizationOfUnsecuredLines: 0.766127,
  age: 45,
  NumberOfTime30_59DaysPastDueNotWorse: 2,
  DebtRatio: 0.802982,
  MonthlyIncome: 9120,
  NumberOfOpenCreditLinesAndLoans: 13,
  NumberOfTimes90DaysLate: 0,
  NumberRealEstateLoansOrLines: 6,
  NumberOfTime60_89DaysPastDueNotWorse: 0,
  NumberOfDependents: 2,
}

const $ = (id) => document.getElementById(id)
const pct = (p) => `${(100 * p).toFixed(2)}%`
/**
 * The server's URLs, relative to the page like its `assets/`: the page is served at `/` and at
 * `/gradio`, and behind a gateway that adds a path prefix (`/credit/gradio` → `/credit/predict`).
 */
const PREDICT_URL = new URL('predict', location.href)
const ARTIFACT_URL = new URL('model/artifact', location.href)
const MODEL_INFO_URL = new URL('model', location.href)
const BUNDLED_URL = new URL('default-model.json', import.meta.url)
/** How often to ask the server whether its model changed; `?model-poll=<ms>` shortens it (tests). */
const POLL_MS = Math.max(200, Number(new URLSearchParams(location.search).get('model-poll')) || 60_000)
let model
/** `server` (its `/model/artifact`) or `bundled` (default-model.json next to this module). */
let modelSource
/** The served artifact's ETag (its checksum, quoted), for `If-None-Match`. */
let modelEtag
/** `GET /model`'s `source.registry_version` (a model registry's version number), when it has one. */
let registryVersion
let checking = false
let features
let serverTimer
let serverSeq = 0

/**
 * What screen readers hear, through the page's one live region (#announce, polite): the result
 * or what to fix, the server check's answer, a model switch. Written once typing pauses
 * (ANNOUNCE_MS), and only when it says something new, so that typing is not interrupted by
 * every keystroke's intermediate state; the field errors themselves are tied to their fields
 * (aria-describedby, aria-invalid) and read when a field has focus.
 */
const ANNOUNCE_MS = 700
const spoken = { result: '', server: '', note: '' }
let announceTimer
let lastAnnounced = ''

function announce(part, text) {
  spoken[part] = text
  clearTimeout(announceTimer)
  announceTimer = setTimeout(() => {
    const text = [spoken.result, spoken.server, spoken.note].filter(Boolean).join(' ')
    spoken.note = ''
    if (text === lastAnnounced) return
    lastAnnounced = text
    $('announce').textContent = text
  }, ANNOUNCE_MS)
}

function rangeText(f) {
  const what = f.kind === 'count' ? 'whole number' : 'number'
  const codes = f.specialCodes.length ? `, or bureau code ${f.specialCodes.join(' or ')}` : ''
  return `${what} from ${f.min.toLocaleString('en')} to ${f.max.toLocaleString('en')}${codes}${f.optional ? '; may be left empty' : ''}`
}

function buildForm() {
  const box = $('fields')
  box.replaceChildren()
  for (const f of features) {
    const wrap = document.createElement('div')
    wrap.className = 'field'
    const id = `f-${f.name}`
    wrap.innerHTML = `<label for="${id}"></label><span class="desc" id="${id}-desc"></span>
      <input id="${id}" name="${f.name}" type="text" inputmode="decimal" autocomplete="off"
        aria-describedby="${id}-desc ${id}-err">
      <p class="error" id="${id}-err"></p>`
    wrap.querySelector('label').textContent = LABELS[f.name] ?? f.name
    wrap.querySelector('.desc').textContent = `${f.description}. Valid: ${rangeText(f)}.`
    box.append(wrap)
  }
  fill(EXAMPLE)
}

function fill(values) {
  for (const f of features) $(`f-${f.name}`).value = values[f.name] ?? ''
}

/** The form as an applicant: empty = absent, numbers as numbers, anything else as typed (the core names the error). */
function readForm() {
  const a = {}
  for (const f of features) {
    const raw = $(`f-${f.name}`).value.trim()
    if (raw === '') continue
    const n = Number(raw)
    a[f.name] = raw !== '' && Number.isFinite(n) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw) ? n : raw
  }
  return a
}

function showErrors(errors) {
  for (const f of features) {
    $(`f-${f.name}`).removeAttribute('aria-invalid')
    $(`f-${f.name}-err`).textContent = ''
  }
  const general = []
  for (const e of errors) {
    const input = e.field && $(`f-${e.field}`)
    if (input) {
      input.setAttribute('aria-invalid', 'true')
      const box = $(`f-${e.field}-err`)
      box.textContent = box.textContent ? `${box.textContent} ${e.message}` : e.message
    } else {
      general.push(e.message)
    }
  }
  $('status').textContent = errors.length ? `Fix ${errors.length === 1 ? 'the field' : `${errors.length} fields`} marked in red to get a score.${general.length ? ' ' + general.join(' ') : ''}` : ''
  if (errors.length) {
    const names = [...new Set(errors.filter((e) => e.field).map((e) => LABELS[e.field] ?? e.field))]
    announce('result', `No score yet: fix ${names.join(', ') || 'the input'}.${general.length ? ' ' + general.join(' ') : ''}`)
  }
}

function render(applicant) {
  let explanation
  try {
    explanation = model.explain(applicant)
  } catch (err) {
    showErrors(err.errors ?? [{ field: '', message: String(err.message ?? err) }])
    for (const id of ['probability', 'decision', 'score']) $(id).textContent = '–'
    $('decision').className = ''
    $('gauge-fill').style.width = '0'
    $('reasons').replaceChildren()
    return false
  }
  showErrors([])
  const e = explanation
  $('probability').textContent = pct(e.probability)
  $('probability').dataset.value = String(e.probability)
  $('decision').textContent = e.prediction === 1 ? 'High risk (1)' : 'Low risk (0)'
  $('decision').className = `decision-${e.prediction}`
  $('score').textContent = e.score.toFixed(0)
  $('score').dataset.value = String(e.score)
  $('gauge-fill').style.width = `${Math.min(100, 100 * e.probability)}%`
  $('gauge-text').textContent = `Probability ${pct(e.probability)}; the decision threshold is ${pct(e.threshold)}.`
  announce('result', `Probability of default ${pct(e.probability)}: ${e.prediction === 1 ? 'high' : 'low'} risk, score ${e.score.toFixed(0)}.`)
  const reasonCodes = new Map(e.reasons.map((r) => [r.feature, r.code]))
  // A model with interaction cells loses points in cells too: one row per pair ("A × B"), so
  // that the rows add up to every point lost (the reason codes split a cell's loss half to each
  // of its two features).
  const losses = e.contributions
    .map((c) => ({ feature: c.feature, lost: c.maxPoints - c.points, bin: c.bin }))
    .concat((e.interactions ?? []).map((c) => ({
      feature: c.features.join(' × '),
      label: c.features.map((f) => LABELS[f] ?? f).join(' × '),
      lost: c.maxPoints - c.points,
    })))
    .filter((c) => c.lost > 1e-9)
    .sort((a, b) => b.lost - a.lost)
  const most = Math.max(1, ...losses.map((l) => l.lost))
  const list = $('reasons')
  list.replaceChildren()
  for (const l of losses) {
    const li = document.createElement('li')
    const code = reasonCodes.get(l.feature)
    if (code) li.className = 'reason'
    li.innerHTML = '<span class="name"></span><span class="bar" role="presentation"></span><span class="pts"></span>'
    const name = l.label ?? LABELS[l.feature] ?? l.feature
    li.querySelector('.name').textContent = `${name}${code ? ` [${code}]` : ''}`
    li.querySelector('.bar').style.width = `${(100 * l.lost) / most}%`
    li.querySelector('.pts').textContent = `−${l.lost.toFixed(1)}`
    li.setAttribute('aria-label', `${name}: ${l.lost.toFixed(1)} points lost${code ? `, reason ${code}` : ''}`)
    list.append(li)
  }
  if (!losses.length) list.innerHTML = '<li>No points lost: the best possible profile.</li>'
  return true
}

async function askServer(applicant, localProbability) {
  const seq = ++serverSeq
  const out = $('server-result')
  out.className = ''
  out.textContent = 'Asking the server…'
  try {
    const res = await fetch(PREDICT_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(applicant),
    })
    const body = await res.json()
    if (seq !== serverSeq) return
    if (res.status === 200) {
      const same = localProbability !== undefined && Math.abs(body.probability - localProbability) <= 4 * Number.EPSILON * Math.max(body.probability, localProbability)
      out.className = same ? 'agree' : 'disagree'
      out.dataset.probability = String(body.probability)
      out.textContent = `Server: ${pct(body.probability)}, prediction ${body.prediction}, score ${body.score.toFixed(0)} (model ${body.model_version}) — ${same ? 'agrees with the page ✓' : 'differs from the page ✗'}`
      announce('server', same ? 'The server agrees.' : `The server differs: ${pct(body.probability)}.`)
      // The server scored with another model than the page: it was reloaded since the last check.
      if (body.model_version !== model.version) recheckModel()
    } else if (res.status === 422) {
      const fields = (body.detail ?? []).map((d) => d.loc?.[1]).filter(Boolean)
      out.className = localProbability === undefined ? 'agree' : 'disagree'
      out.textContent = `Server: 422, invalid ${fields.join(', ')} — ${localProbability === undefined ? 'agrees with the page ✓' : 'differs from the page ✗'}`
      announce('server', localProbability === undefined ? 'The server agrees.' : 'The server differs: it refused the applicant.')
    } else {
      out.textContent = `Server answered ${res.status}.`
      announce('server', out.textContent)
    }
  } catch {
    if (seq !== serverSeq) return
    out.textContent = 'No server answered (the page also works as a static site, scoring locally).'
    announce('server', 'No server answered.')
  }
}

function update() {
  const applicant = readForm()
  const ok = render(applicant)
  if ($('server-check').checked) {
    clearTimeout(serverTimer)
    const local = ok ? Number($('probability').dataset.value) : undefined
    serverTimer = setTimeout(() => askServer(applicant, local), 150)
  } else {
    $('server-result').textContent = ''
  }
  // The server's answer to the previous input no longer applies.
  spoken.server = ''
}

/**
 * The server's artifact: `{ text, etag }`, `{ unchanged: true }` (304 for `etag`), or `{ problem }`
 * when there is none (a static host: network error, 404, or not JSON). `no-store`: the browser's
 * cache would answer a conditional request itself; here the 304 must reach this code.
 */
async function fetchArtifact(etag) {
  try {
    const res = await fetch(ARTIFACT_URL, { cache: 'no-store', headers: etag ? { 'if-none-match': etag } : {} })
    if (res.status === 304) return { unchanged: true }
    const type = res.headers.get('content-type') ?? ''
    if (!res.ok || !type.startsWith('application/json')) return { problem: `HTTP ${res.status} ${type}`.trim() }
    return { text: await res.text(), etag: res.headers.get('etag') ?? undefined }
  } catch (err) {
    return { problem: String(err?.message ?? err) }
  }
}

/** The registry version `GET /model` reports for the model the page now has (optional field). */
async function fetchRegistryVersion() {
  try {
    const res = await fetch(MODEL_INFO_URL, { cache: 'no-store' })
    const info = res.ok ? await res.json() : {}
    // Another reload may have happened in between: only the same artifact's version counts.
    return info.checksum === model.checksum ? info.source?.registry_version ?? undefined : undefined
  } catch {
    return undefined
  }
}

/** Swaps in a compiled model (freeing the old one's wasm memory) and shows what it is. */
async function useModel(next, source, etag) {
  const old = model
  model = next
  modelSource = source
  modelEtag = etag
  old?.free()
  registryVersion = source === 'server' ? await fetchRegistryVersion() : undefined
  const info = $('model-info')
  const from = source === 'server' ? 'loaded from this server (/model/artifact)' : 'bundled with the page (no server model)'
  const registry = registryVersion === undefined ? '' : ` (registry version ${registryVersion})`
  info.textContent = `Model ${model.version}${registry}, ${from} · cross-validated AUC ${model.metrics.cv.auc.toFixed(3)} · threshold ${pct(model.threshold)}`
  info.dataset.version = model.version
  info.dataset.source = source
  $('gauge-threshold').style.left = `${100 * model.threshold}%`
  $('gauge-threshold-label').textContent = `threshold ${pct(model.threshold)}`
}

/** The first model: the server's when there is one, else the bundled copy. */
async function loadModel(served) {
  let why = served.problem
  if (served.text !== undefined) {
    try {
      return await useModel(Model.fromJson(served.text), 'server', served.etag)
    } catch (err) {
      why = `the server's model was refused: ${err.message ?? err}`
    }
  }
  const res = await fetch(BUNDLED_URL)
  if (!res.ok) throw new Error(`${BUNDLED_URL.pathname}: HTTP ${res.status}`)
  await useModel(Model.fromJson(await res.text()), 'bundled')
  $('model-info').title = `No model from the server (${why}).`
}

/** Asks the server whether its model changed (ETag); on a new one, switches to it and re-scores. */
async function recheckModel() {
  if (modelSource !== 'server' || checking) return
  checking = true
  try {
    const served = await fetchArtifact(modelEtag)
    if (served.text === undefined || served.etag === modelEtag) return
    const before = model.version
    let next
    try {
      next = Model.fromJson(served.text)
    } catch (err) {
      $('model-note').textContent = `The server's new model could not be loaded (${err.message ?? err}); still scoring with model ${before}.`
      announce('note', $('model-note').textContent)
      return
    }
    await useModel(next, 'server', served.etag)
    $('model-note').textContent = `The server switched from model ${before} to ${model.version}; the page now scores with it.`
    update()
    announce('note', $('model-note').textContent)
  } finally {
    checking = false
  }
}

function watchModel() {
  window.addEventListener('focus', recheckModel)
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && recheckModel())
  setInterval(() => document.visibilityState === 'visible' && recheckModel(), POLL_MS)
}

async function main() {
  // The .wasm and the server's artifact in parallel; the bundled model only when needed.
  const [, served] = await Promise.all([init({ defaultModelUrl: null }), fetchArtifact()])
  features = Model.features()
  await loadModel(served)
  buildForm()
  $('applicant').addEventListener('input', update)
  $('server-check').addEventListener('change', update)
  $('reset').addEventListener('click', () => {
    fill(EXAMPLE)
    update()
  })
  watchModel()
  update()
  document.body.dataset.ready = 'true'
}

main().catch((err) => {
  $('fields').textContent = `The scoring module failed to load: ${err.message}`
})
