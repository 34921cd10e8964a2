// Example web app: a plain node:http server that scores applicants with the `credit-default`
// package. POST /score takes the applicant as JSON and answers the prediction, or 422 with the
// field errors the package reports; a body over 64 KB gets 413. Run: `npm start` (PORT, default 3000).
import { createServer } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Model } = require('credit-default')

/** Largest request body scored (an applicant is a few hundred bytes). */
const MAX_BODY = 64 * 1024
/** How much of a too-large body is read (and dropped) after the 413, before the connection is cut. */
const MAX_DRAIN = 16 * 1024 * 1024

/** Builds the server around one model (loaded once, shared by every request). */
export function createApp(model = Model.default()) {
  return createServer((req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && req.url === '/health') return send(200, { status: 'ok', modelVersion: model.version })
    if (req.method !== 'POST' || req.url !== '/score') return send(404, { error: 'not found' })
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size <= MAX_BODY) return chunks.push(c)
      // Too large: answer 413 at once, then read and drop the rest of the body rather than
      // closing the socket under the client, whose unsent body would make the kernel reset the
      // connection and could discard the 413 before the client reads it. A client that goes on
      // past MAX_DRAIN is cut off.
      if (!res.headersSent) send(413, { error: 'body too large' }, { connection: 'close' })
      if (size > MAX_DRAIN) req.destroy()
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
