/**
 * The post step (`post:` with `post-if: always()`): if the main step recorded a request and
 * did not see it settle — typically because the process was killed — withdraw it now, so no
 * orphaned card waits in the dashboard. Bounded in time, and it never fails the job.
 */
import * as core from '@actions/core'
import { ApprovalError, ApprovalsClient } from '../client/index.js'
import { ACTION_SETTING_NAMES, getCredentials } from './inputs.js'
import { logLine } from '../shared/log-text.js'
import { pendingApproval } from './state.js'

/** Upper bound for the withdrawal request. */
export const POST_WITHDRAW_TIMEOUT_MS = 5_000

/** Withdraws a still-pending request recorded by the main step. Never rejects, never fails the step. */
export async function cleanup(): Promise<void> {
  try {
    const pending = pendingApproval()
    if (!pending) {
      core.debug('No pending approval request to withdraw.')
      return
    }
    const credentials = getCredentials()
    const client = new ApprovalsClient({ apiUrl: pending.apiUrl ?? credentials.apiUrl, apiKey: credentials.apiKey, requestTimeoutMs: POST_WITHDRAW_TIMEOUT_MS, settingNames: ACTION_SETTING_NAMES })
    try {
      await client.cancel(pending.approvalId, 'The workflow step ended before a decision', { timeoutMs: POST_WITHDRAW_TIMEOUT_MS })
      core.info(logLine(`Withdrew approval request ${pending.approvalId}: the step ended before anyone decided.`))
    } catch (error) {
      if (error instanceof ApprovalError && (error.code === 'conflict' || error.code === 'not_found')) {
        core.debug(`Approval ${pending.approvalId} needs no withdrawal (${error.code}).`)
        return
      }
      throw error
    }
  } catch (error) {
    core.warning(`Could not withdraw the approval request: ${error instanceof Error ? error.message : String(error)}`)
  }
}
