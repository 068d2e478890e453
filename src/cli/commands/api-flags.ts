/** `--api-url` / `--api-key` of the commands that talk to a server through the core. */
import { flagOrEnv } from '../cli-kit.js'

export const API_FLAGS = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
} as const

export const API_HELP = `  --api-url URL  the approvals API (env APPROVAL_GATE_API_URL, then JAMJET_API_URL)
  --api-key KEY  the API key (env APPROVAL_GATE_API_KEY, then JAMJET_API_KEY; prefer the
                 environment: flags show in the process list)`

/** Flags first, then `APPROVAL_GATE_*`; the core falls back to `JAMJET_*` and its default URL. */
export function apiConnection(values: { 'api-url'?: string; 'api-key'?: string }, env: NodeJS.ProcessEnv): { apiUrl?: string; apiKey?: string } {
  return {
    apiUrl: flagOrEnv(values['api-url'], env, 'APPROVAL_GATE_API_URL'),
    apiKey: flagOrEnv(values['api-key'], env, 'APPROVAL_GATE_API_KEY'),
  }
}
