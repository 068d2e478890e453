/** The modal that asks for a decision's reason (`views.open`), answered by a `view_submission`. */
import { MAX_REASON_CHARS } from '../../contract/index.js'
import type { Decision } from '../store/types.js'
import { REASON_BLOCK, REASON_CALLBACK, REASON_INPUT, reasonMetadata, type MessageAt } from './interaction-payload.js'
import { mrkdwn, plainText, slackText } from './mrkdwn.js'

/** `required`: the project's rules ask for a reason for this decision (`why` says so); else it is optional. */
export function reasonModal(input: { decision: Decision; approvalId: string; action: string; message: MessageAt; required: boolean; why: string | null }): object {
  const verb = input.decision === 'approve' ? 'Approve' : 'Reject'
  const blocks: object[] = [{ type: 'section', text: mrkdwn(`${verb}: *${slackText(input.action)}*`) }]
  if (input.why) blocks.push({ type: 'context', elements: [mrkdwn(slackText(input.why, 500))] })
  blocks.push({
    type: 'input',
    block_id: REASON_BLOCK,
    optional: !input.required,
    label: plainText(input.required ? 'Reason (required)' : 'Reason'),
    element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, max_length: MAX_REASON_CHARS },
  })
  return {
    type: 'modal',
    callback_id: REASON_CALLBACK,
    private_metadata: reasonMetadata(input.decision, input.approvalId, input.message),
    title: plainText(`${verb} request`, 24),
    submit: plainText(verb),
    close: plainText('Cancel'),
    blocks,
  }
}
