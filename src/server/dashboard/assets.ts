/**
 * The dashboard's static files: the compiled client scripts (`lib/server/dashboard/client/*.js`,
 * built by `npm run build`) and the stylesheet (`static/*.css`, from lib/ when built, else src/).
 * Read once at start-up and served from memory with an ETag.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface Asset {
  body: Buffer
  contentType: string
  etag: string
}

/** The package root: the nearest folder above this module that holds package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`approval-gate dashboard: no package.json above ${from}`)
    dir = parent
  }
}

const SAFE_NAME = /^[a-z0-9-]+\.(js|css)$/

function readDir(dir: string, extension: string, contentType: string, into: Map<string, Asset>): void {
  if (!existsSync(dir)) return
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(extension) || !SAFE_NAME.test(name) || into.has(name)) continue
    const body = readFileSync(join(dir, name))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    into.set(name, { body, contentType, etag })
  }
}

/** Loads every asset by file name (`live.js`, `dashboard.css`). Missing client scripts only disable live updates. */
export function loadAssets(root = packageRoot()): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  readDir(join(root, 'lib/server/dashboard/client'), '.js', 'text/javascript; charset=utf-8', assets)
  readDir(join(root, 'lib/server/dashboard/static'), '.css', 'text/css; charset=utf-8', assets)
  readDir(join(root, 'src/server/dashboard/static'), '.css', 'text/css; charset=utf-8', assets)
  return assets
}
