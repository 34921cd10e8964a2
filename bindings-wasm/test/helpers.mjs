// Test helpers shared by the Chromium tests and the benchmark: a static file server on a free
// loopback port, and the machine's headless Chromium through playwright-core (never a downloaded
// browser): Debian's chromium, or Google Chrome where that is what is installed (GitHub's runners).
import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { delimiter, extname, join, resolve, sep } from 'node:path'
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

const BROWSER_NAMES = ['chromium', 'google-chrome', 'google-chrome-stable', 'chromium-browser']

function executable(file) {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** `$CHROMIUM` when set, else `$CHROME_BIN` (set on GitHub's runners), else the first of
 * /usr/bin/chromium, google-chrome, google-chrome-stable, chromium-browser found in /usr/bin or
 * on the PATH; undefined when there is none. */
function findChromium() {
  for (const name of ['CHROMIUM', 'CHROME_BIN']) if (process.env[name]) return process.env[name]
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)]
  for (const name of BROWSER_NAMES) {
    for (const dir of dirs) if (executable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

export const CHROMIUM = findChromium()

/** Headless Chromium with the flags these machines need (playwright gives it a fresh profile),
 * plus `extraArgs` (e.g. `--js-flags=...`). */
export async function launchChromium(extraArgs = []) {
  if (!CHROMIUM) {
    throw new Error(
      `no Chromium found (${BROWSER_NAMES.join(', ')}): set CHROMIUM to its path, or run make js-chromium`,
    )
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs,
    ],
  })
  return { browser, close: () => browser.close() }
}
