// Copies non-TypeScript server assets (CSS, images, SQL) next to the compiled code in lib/.
import { cpSync, existsSync } from 'node:fs'

const assets = [['src/server/dashboard/static', 'lib/server/dashboard/static']]
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (p) => !p.endsWith('.ts') })
}
