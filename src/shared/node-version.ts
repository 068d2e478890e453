/**
 * Which Node.js the parts of approval-gate need. The library and the client commands
 * (`request`, `decide`) run on Node >= 22.19 (undici 8's floor); the server and the admin
 * commands need Node >= 24 (`node:sqlite`, and the runtime the server is tested on).
 */

/** The library and the client commands. */
export const CLIENT_NODE = '22.19.0'
/** `serve` and the admin commands. */
export const SERVER_NODE = '24.0.0'

/** True when `found` (e.g. `process.versions.node`) is at least `needed` (`x.y.z`). */
export function nodeAtLeast(needed: string, found: string = process.versions.node): boolean {
  const a = found.split('.').map((part) => Number.parseInt(part, 10) || 0)
  const b = needed.split('.').map((part) => Number.parseInt(part, 10) || 0)
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

/** `>= 22.19` from `22.19.0`, `>= 24` from `24.0.0`. */
export function shortVersion(version: string): string {
  return version.replace(/(\.0)+$/, '')
}

/** One line saying what `what` needs and what was found, or null when this Node is new enough. */
export function nodeVersionProblem(what: string, needed: string, found: string = process.versions.node): string | null {
  if (nodeAtLeast(needed, found)) return null
  return `${what} needs Node.js >= ${shortVersion(needed)}, but this is Node.js v${found}`
}
