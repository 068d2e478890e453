import { describe, expect, it } from '@jest/globals'
import { notificationTypeOf } from '../../src/server/store/channel-records.js'

describe('notificationTypeOf', () => {
  it.each([
    ['created', 'approval.created'],
    ['vote_approve', 'approval.voted'],
    ['vote_reject', 'approval.voted'],
    ['approved', 'approval.decided'],
    ['rejected', 'approval.decided'],
    ['timed_out', 'approval.expired'],
    ['cancelled', 'approval.cancelled'],
    ['member_added', null],
    ['channel_added', null],
    ['something_new', null],
  ])('maps the audit event %s to %s', (auditType, notification) => {
    expect(notificationTypeOf(auditType)).toBe(notification)
  })
})
