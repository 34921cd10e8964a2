// Test helpers shared by the Chromium tests and the benchmark: a static file server on a free
// loopback port, and Debian's headless Chromium through playwright-core (never a downloaded browser).
import { createServer } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import { chromium } from 'playwright-core'

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

/** Serves `mounts` (`{ '/prefix/': dir }`) on 127.0.0.1 at a free port; resolves `{ url, close }`. */
export async function serveStatic(mounts) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue
      const base = resolve(dir)
      const file = resolve(join(base, path.slice(prefix.length) || 'index.html'))
      if (!file.startsWith(base + sep)) break
      try {
        if ((await stat(file)).isFile()) {
          res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' })
          res.end(await readFile(file))
          return
        }
      } catch {
        // fall through to 404
      }
    }
    res.writeHead(404).end('not found')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) }
}

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

/** Headless Chromium with the flags these machines need (playwright gives it a fresh profile). */
export async function launchChromium() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  })
  return { browser, close: () => browser.close() }
}
