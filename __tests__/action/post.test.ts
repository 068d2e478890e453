/** The post step with `@actions/core` and the client mocked (the process test covers the real thing). */
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as core from '../../__fixtures__/core.js'

const cancel = jest.fn<(id: string, reason?: string, options?: unknown) => Promise<unknown>>()
const constructed: unknown[] = []
class FakeClient {
  constructor(options: unknown) {
    constructed.push(options)
  }
  cancel = cancel
}
jest.unstable_mockModule('@actions/core', () => core)
jest.unstable_mockModule('../../src/client/index.js', async () => ({
  ...(await import('../../src/client/errors.js')),
  ...(await import('../../src/client/config.js')),
  ApprovalsClient: FakeClient,
}))
const { ApprovalError } = await import('../../src/client/errors.js')
const { cleanup, POST_WITHDRAW_TIMEOUT_MS } = await import('../../src/action/post.js')

beforeEach(() => {
  core.resetCore()
  cancel.mockReset()
  constructed.length = 0
  core.setInputs({ 'api-key': 'k' })
})

describe('cleanup', () => {
  it('does nothing when the main step recorded nothing or saw the request settle', async () => {
    await cleanup()
    core.setState({ isPost: 'true', approvalId: 'apr_1', settled: 'true' })
    await cleanup()
    expect(constructed).toHaveLength(0)
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('withdraws a pending request at the recorded API, bounded in time', async () => {
    core.setState({ isPost: 'true', approvalId: 'apr_1', apiUrl: 'https://approvals.example.com' })
    cancel.mockResolvedValue({ id: 'apr_1', status: 'cancelled' })
    await cleanup()
    expect(constructed).toEqual([{ apiUrl: 'https://approvals.example.com', apiKey: 'k', requestTimeoutMs: POST_WITHDRAW_TIMEOUT_MS, settingNames: expect.objectContaining({ apiKey: 'the api-key input' }) }])
    expect(cancel).toHaveBeenCalledWith('apr_1', expect.any(String), { timeoutMs: POST_WITHDRAW_TIMEOUT_MS })
    expect(core.info).toHaveBeenCalledWith(expect.stringContaining('Withdrew approval request apr_1'))
  })

  it('withdraws with a fresh OIDC token when the gate ran keyless', async () => {
    core.setInputs({ 'api-url': 'https://approvals.example.com' })
    core.setState({ isPost: 'true', approvalId: 'apr_1', apiUrl: 'https://approvals.example.com' })
    const previous = process.env.ACTIONS_ID_TOKEN_REQUEST_URL
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = 'http://127.0.0.1:1/token'
    try {
      cancel.mockResolvedValue({ id: 'apr_1', status: 'cancelled' })
      await cleanup()
    } finally {
      if (previous === undefined) delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL
      else process.env.ACTIONS_ID_TOKEN_REQUEST_URL = previous
    }
    expect(core.getIDToken).toHaveBeenCalledWith('https://approvals.example.com')
    const token = (await core.getIDToken.mock.results[0].value) as string
    expect(core.setSecret).toHaveBeenCalledWith(token)
    expect(constructed).toEqual([expect.objectContaining({ apiUrl: 'https://approvals.example.com', apiKey: token, bearer: expect.any(Function) })])
    expect(cancel).toHaveBeenCalled()
  })

  it('ignores a pull request comment in the state that is not one (no GitHub call, no warning)', async () => {
    core.setState({ isPost: 'true', approvalId: 'apr_1', pullRequestComment: '{"commentId":"1; DROP"}' })
    core.setInputs({ 'api-key': 'k', 'github-token': 'ghs_x' })
    cancel.mockResolvedValue({ id: 'apr_1', status: 'cancelled' })
    await cleanup()
    expect(cancel).toHaveBeenCalledTimes(1)
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('treats an already decided or unknown request as done', async () => {
    core.setState({ approvalId: 'apr_1' })
    cancel.mockRejectedValueOnce(new ApprovalError('conflict', 'already approved', { status: 409 }))
    await cleanup()
    cancel.mockRejectedValueOnce(new ApprovalError('not_found', 'no such approval', { status: 404 }))
    await cleanup()
    expect(core.warning).not.toHaveBeenCalled()
    expect(core.setFailed).not.toHaveBeenCalled()
  })

  it('only warns when the withdrawal fails, or the key is gone', async () => {
    core.setState({ approvalId: 'apr_1' })
    cancel.mockRejectedValueOnce(new ApprovalError('network_error', 'connection refused'))
    await cleanup()
    expect(core.warning).toHaveBeenCalledWith('Could not withdraw the approval request: connection refused')

    core.setInputs({})
    await cleanup()
    expect(core.warning).toHaveBeenLastCalledWith(expect.stringContaining('Input "api-key" is required'))
    expect(core.setFailed).not.toHaveBeenCalled()
  })
})
