/**
 * The post step (`post:` with `post-if: always()`): if the main step recorded a request and
 * did not see it settle — typically because the process was killed — withdraw it now, so no
 * orphaned card waits in the dashboard, and the gate's pull request comment (if the main step
 * posted one) no longer says "waiting". Bounded in time, and it never fails the job.
 */
import * as core from '@actions/core'
import { ApprovalError, ApprovalsClient } from '../client/index.js'
import { ACTION_SETTING_NAMES, getCredentials, getGithubToken } from './inputs.js'
import { logLine } from '../shared/log-text.js'
import { oidcBearer } from './oidc-token.js'
import { showWithdrawalOnComment } from './pull-request-comment.js'
import { pendingApproval, postedPullRequestComment } from './state.js'

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
    const provider = credentials.auth === 'oidc' ? oidcBearer(credentials.oidcAudience ?? '') : undefined
    const apiKey = provider ? await provider.next() : credentials.apiKey
    const client = new ApprovalsClient({
      apiUrl: pending.apiUrl ?? credentials.apiUrl,
      apiKey,
      bearer: provider?.next,
      requestTimeoutMs: POST_WITHDRAW_TIMEOUT_MS,
      settingNames: ACTION_SETTING_NAMES,
    })
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
    await showWithdrawalOnPullRequest(pending.approvalId)
  } catch (error) {
    core.warning(`Could not withdraw the approval request: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Updates the main step's pull request comment, if it posted one, to say the request was withdrawn. */
async function showWithdrawalOnPullRequest(approvalId: string): Promise<void> {
  const posted = postedPullRequestComment()
  if (!posted) return
  try {
    const token = getGithubToken()
    if (token !== undefined) await showWithdrawalOnComment(posted, token, approvalId)
  } catch (error) {
    core.warning(`Could not update the pull request comment: ${error instanceof Error ? error.message : String(error)}`)
  }
}
