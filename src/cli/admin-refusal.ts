/** How the admin commands turn the admin services' refusals into CLI errors (one line, exit 1). */
import { isAdminError } from '../server/admin/admin-service.js'
import { CliError } from './cli-kit.js'

/** A refusal (`AdminError`: invalid, not found, conflict) becomes a `CliError` with its message; anything else is rethrown as is. */
export function adminRefusal(error: unknown): never {
  throw isAdminError(error) ? new CliError(error.message) : error
}
