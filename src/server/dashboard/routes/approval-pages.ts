/** The Approvals home, one approval's stable page, and deciding from the dashboard. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ApprovalRuleError, type DecideOutcome } from '../../approvals/contracts.js'
import { lostRaceMessage, selfApprovalMessage } from '../../approvals/decision-messages.js'
import type { Approval, Decision, GithubGate, Project } from '../../store/types.js'
import { integrityError } from '../../http/wire.js'
import { html } from '../html.js'
import { formFields } from '../security.js'
import { isValidReason, MAX_REASON_CHARS } from '../../../contract/index.js'
import { approvalCard } from '../views/approval-card.js'
import { approvalPage, approvalsHome } from '../views/approvals-view.js'
import { actorOf, checkCsrf, noticeFromQuery, requireViewer, sendPage, wantsJson, type DashboardDeps, type ProjectViewer } from './common.js'

const APPROVAL_ID = /^apr_[A-Za-z0-9_-]{1,100}$/
const HOME_PAGE_SIZE = 100

/** Finds an approval in any of the viewer's projects (ids are unguessable and global); other projects' ids are simply not found. */
async function findForViewer(deps: DashboardDeps, viewer: ProjectViewer, id: string): Promise<{ approval: Approval; viewer: ProjectViewer } | null> {
  if (!APPROVAL_ID.test(id)) return null
  const ordered = [viewer.project, ...viewer.projects.filter((p) => p.id !== viewer.project.id)]
  for (const project of ordered) {
    const approval = await deps.store.getApproval(project.id, id)
    if (!approval) continue
    // As the API: a settled status is shown only when its audit event proves it.
    const problem = await deps.store.verifyDecision(project.id, approval)
    if (problem !== null) throw integrityError(approval, problem)
    return { approval, viewer: { ...viewer, project } }
  }
  return null
}

/** The GitHub App gate of an approval of the viewer's project, if the App created it. */
async function githubGateOf(deps: DashboardDeps, project: Project, approval: Approval): Promise<GithubGate | null> {
  const [gate] = await deps.store.listGithubGates(project.id, { approvalId: approval.id, limit: 1 })
  return gate ?? null
}

export function registerApprovalRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    const cursor = (request.query as Record<string, unknown>).cursor
    const page = await deps.store.listApprovals(viewer.project.id, {
      status: 'pending',
      limit: HOME_PAGE_SIZE,
      cursor: typeof cursor === 'string' && cursor.length < 500 ? cursor : undefined,
    })
    return sendPage(deps, reply, 200, {
      title: 'Approvals',
      viewer,
      section: 'approvals',
      streamProject: viewer.project.id,
      live: 'home',
      notices: noticeFromQuery(request),
      main: approvalsHome({
        approvals: page.items,
        csrfToken: viewer.session.csrf_token,
        publicUrl: deps.publicUrl,
        nextCursor: page.next_cursor,
        standingOf: (approval) => deps.approvals.standing(viewer.project, approval, actorOf(viewer)),
      }),
    })
  })

  app.get<{ Params: { id: string } }>('/approvals/:id', async (request, reply) => {
    const signedIn = await requireViewer(deps, request, reply)
    if (!signedIn) return reply
    const found = await findForViewer(deps, signedIn, request.params.id)
    if (!found) return notFound(deps, signedIn, reply)
    const { approval, viewer } = found
    const notices = noticeFromQuery(request)
    if ((request.query as Record<string, unknown>).notice === 'lost') notices.push({ kind: 'info', text: lostRaceMessage(approval) })
    return sendPage(deps, reply, 200, {
      title: approval.action,
      viewer,
      section: 'approvals',
      streamProject: viewer.project.id,
      live: 'approval',
      notices,
      main: approvalPage(approval, viewer.session.csrf_token, deps.approvals.standing(viewer.project, approval, actorOf(viewer)), await githubGateOf(deps, viewer.project, approval)),
    })
  })

  app.post<{ Params: { id: string } }>('/approvals/:id/decision', async (request, reply) => {
    const signedIn = await requireViewer(deps, request, reply)
    if (!signedIn || !checkCsrf(signedIn, request, reply)) return reply
    const form = formFields(request)
    const decision = form.decision
    if (decision !== 'approve' && decision !== 'reject') return badRequest(request, reply, 'Choose Approve or Reject.')
    const reasonText = (form.reason ?? '').trim()
    if (reasonText.length > MAX_REASON_CHARS) return badRequest(request, reply, `The reason is too long: at most ${MAX_REASON_CHARS} characters.`)
    if (!isValidReason(reasonText, MAX_REASON_CHARS)) return badRequest(request, reply, 'The reason contains invisible or control characters (such as bidirectional overrides); remove them.')

    const found = await findForViewer(deps, signedIn, request.params.id)
    if (!found) return wantsJson(request) ? reply.code(404).send({ error: { code: 'not_found', message: 'No such approval.' } }) : notFound(deps, signedIn, reply)
    const { viewer } = found
    let outcome: DecideOutcome | null
    try {
      outcome = await deps.approvals.decide(viewer.project, found.approval.id, {
        decision: decision as Decision,
        reason: reasonText === '' ? null : reasonText,
        actor: actorOf(viewer),
      })
    } catch (error) {
      // The rule asks for a reason (or the reason breaks the text rules): say so, nothing was written.
      if (error instanceof ApprovalRuleError) return badRequest(request, reply, `${error.message[0].toUpperCase()}${error.message.slice(1)}.`)
      throw error
    }
    return replyToDecision(deps, request, reply, viewer, found.approval, outcome)
  })
}

async function replyToDecision(
  deps: DashboardDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  viewer: ProjectViewer,
  original: Approval,
  outcome: DecideOutcome | null,
): Promise<FastifyReply> {
  const json = wantsJson(request)
  if (!outcome) return json ? reply.code(404).send({ error: { code: 'not_found', message: 'No such approval.' } }) : notFound(deps, viewer, reply)
  const card = (approval: Approval) => approvalCard(approval, { csrfToken: viewer.session.csrf_token, standing: deps.approvals.standing(viewer.project, approval, actorOf(viewer)) }).value
  if ('refused' in outcome) {
    const message = outcome.refused === 'self_approval' ? selfApprovalMessage(outcome.approval, outcome.login) : `You cannot decide this request: ${outcome.message}.`
    if (json) return reply.code(outcome.refused === 'already_voted' ? 409 : 403).send({ result: 'refused', message, html: card(outcome.approval) })
    return sendPage(deps, reply, 403, {
      title: original.action,
      viewer,
      section: 'approvals',
      notices: [{ kind: 'error', text: message }],
      main: approvalPage(outcome.approval, viewer.session.csrf_token, deps.approvals.standing(viewer.project, outcome.approval, actorOf(viewer)), await githubGateOf(deps, viewer.project, outcome.approval)),
    })
  }
  if (!outcome.changed) {
    if (json) return reply.code(409).send({ result: 'lost', message: lostRaceMessage(outcome.approval), status: outcome.approval.status, html: card(outcome.approval) })
    return reply.redirect(`/approvals/${encodeURIComponent(original.id)}?notice=lost`, 303)
  }
  const status = outcome.approval.status
  if (status === 'pending') {
    // Counted, but the rule needs more approvals: the card shows the progress.
    if (json) return reply.send({ result: 'voted', status, message: 'Your vote is counted.', html: card(outcome.approval) })
    return reply.redirect(`/approvals/${encodeURIComponent(original.id)}?notice=voted`, 303)
  }
  if (json) return reply.send({ result: 'decided', status, message: status === 'approved' ? 'Approved.' : 'Rejected.', html: card(outcome.approval) })
  return reply.redirect(`/?notice=${status === 'approved' ? 'approved' : 'rejected'}`, 303)
}

function badRequest(request: FastifyRequest, reply: FastifyReply, message: string): FastifyReply {
  if (wantsJson(request)) return reply.code(400).send({ error: { code: 'bad_request', message } })
  return reply.code(400).type('text/plain; charset=utf-8').send(message)
}

function notFound(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply): Promise<FastifyReply> {
  return sendPage(deps, reply, 404, {
    title: 'Not found',
    viewer,
    section: 'approvals',
    main: html`<h1>Approval not found</h1><p>No approval with this ID exists in your projects.</p><p><a href="/">Back to approvals</a></p>`,
  })
}
