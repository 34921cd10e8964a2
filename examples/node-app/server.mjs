// Example web app: a plain node:http server that scores applicants with the `credit-default`
// package. POST /score takes the applicant as JSON and answers the prediction, or 422 with the
// field errors the package reports. Run: `npm start` (PORT, default 3000).
import { createServer } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Model } = require('credit-default')

/** Builds the server around one model (loaded once, shared by every request). */
export function createApp(model = Model.default()) {
  return createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && req.url === '/health') return send(200, { status: 'ok', modelVersion: model.version })
    if (req.method !== 'POST' || req.url !== '/score') return send(404, { error: 'not found' })
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > 64 * 1024) {
        send(413, { error: 'body too large' })
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => {
      if (res.writableEnded) return
      try {
        // predictJson validates the raw text exactly as the REST service does (duplicate keys too).
        const p = model.predictJson(Buffer.concat(chunks).toString('utf8'))
        send(200, { probability: p.probability, prediction: p.prediction, score: p.score, reasons: p.reasons.map((r) => r.code), modelVersion: p.modelVersion })
      } catch (err) {
        if (err.code === 'invalid_applicant') send(422, { errors: err.errors })
        else send(500, { error: err.message })
      }
    })
  })
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const port = Number(process.env.PORT ?? 3000)
  createApp().listen(port, '127.0.0.1', () => console.log(`scoring on http://127.0.0.1:${port}/score`))
}
