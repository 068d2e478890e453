/** `--api-url` / `--api-key` of the commands that talk to a server through the core. */
import type { SettingNames } from '../../client/index.js'
import { flagOrEnv } from '../cli-kit.js'

export const API_FLAGS = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
} as const

/** How the core's hints name the settings on the command line. */
export const CLI_SETTING_NAMES: SettingNames = { apiUrl: '--api-url (or APPROVAL_GATE_API_URL)', apiKey: '--api-key (or APPROVAL_GATE_API_KEY)' }

/** The help lines of the API flags, their descriptions starting at `column` like the command's other options. */
export function apiHelp(column: number): string {
  const option = (flag: string, ...text: string[]): string =>
    text.map((part, index) => `${index === 0 ? `  ${flag}`.padEnd(column) : ' '.repeat(column)}${part}`).join('\n')
  return [
    option('--api-url URL', 'the approvals API (env APPROVAL_GATE_API_URL, then JAMJET_API_URL)'),
    option('--api-key KEY', 'the API key (env APPROVAL_GATE_API_KEY, then JAMJET_API_KEY; prefer the', 'environment: flags show in the process list)'),
  ].join('\n')
}

/** Flags first, then `APPROVAL_GATE_*`; the core falls back to `JAMJET_*` and its default URL. */
export function apiConnection(values: { 'api-url'?: string; 'api-key'?: string }, env: NodeJS.ProcessEnv): { apiUrl?: string; apiKey?: string } {
  return {
    apiUrl: flagOrEnv(values['api-url'], env, 'APPROVAL_GATE_API_URL'),
    apiKey: flagOrEnv(values['api-key'], env, 'APPROVAL_GATE_API_KEY'),
  }
}
