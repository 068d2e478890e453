/**
 * Which Node.js each command needs, said in one line instead of a stack trace.
 *
 * `index.ts` imports this module first: on a Node.js older than the client needs
 * (undici 8: >= 22.19) it prints one line and exits before undici loads. The server and
 * the admin commands load the server (Fastify, `node:sqlite`) only when they run, through
 * `loadServer()`, which first checks for Node >= 24; so `--help`, `--version`, `request`
 * and `decide` work on Node 22.
 */
import { CLIENT_NODE, nodeAtLeast, nodeVersionProblem, SERVER_NODE, shortVersion } from '../shared/node-version.js'
import { CliError, EXIT } from './cli-kit.js'

const tooOld = nodeVersionProblem('approval-gate', CLIENT_NODE)
if (tooOld) {
  process.stderr.write(
    `${tooOld}; install Node.js ${shortVersion(CLIENT_NODE)} or newer for request and decide, ${shortVersion(SERVER_NODE)} for serve and the admin commands\n`,
  )
  process.exit(EXIT.error)
}

/** Throws a one-line `CliError` when this Node.js cannot run the server or the admin commands. */
export function requireServerNode(command?: string, found: string = process.versions.node): void {
  if (nodeAtLeast(SERVER_NODE, found)) return
  const what = command ? `${command} needs` : 'the server and admin commands need'
  throw new CliError(
    `${what} Node.js >= ${shortVersion(SERVER_NODE)}, but this is Node.js v${found} (request, decide and the library work on Node.js >= ${shortVersion(CLIENT_NODE)})`,
  )
}

/** The server's entry module, loaded on demand after checking the Node.js version. */
export async function loadServer(command?: string): Promise<typeof import('../server/server.js')> {
  requireServerNode(command)
  return import('../server/server.js')
}
