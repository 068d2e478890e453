import type { RequireApprovalOptions } from './types.js'

/** Placeholder until the polling core lands. */
export async function requireApproval(_action: string, _options: RequireApprovalOptions = {}): Promise<string> {
  throw new Error('not implemented yet')
}
