/**
 * The one writer of projects' administration: members, invitations, API keys, settings and
 * passwords. The CLI (operator) and the dashboard (project admins) both call it, so a rule
 * lives here once, and every change to a project is recorded in that project's audit trail
 * with who made it.
 *
 * What a project admin can change affects that project only: adding a member never changes
 * an existing account (it issues an invitation, and the answer is the same whether or not
 * the email has an account), and the GitHub login the self-approval rule reads belongs to
 * the membership. Ending a user's access (password change, removal) ends their sessions.
 */
import { hashPassword, hashToken, newApiKey, randomToken } from '../auth/secrets.js'
import type { AcceptedInvitation, AdminChange, AdminEventType, ApiKeyInfo, Invitation, KeyScope, PolicyVersion, Project, ProjectSettings, Role, Store, TrustRule, User } from '../store/types.js'
import { formatPolicyErrors, parsePolicy, type PolicyError } from '../policies/index.js'
import {
  canRequestAndDecide,
  describeTrustRule,
  emailProblem,
  githubLoginProblem,
  INVITATION_TTL_MS,
  isRole,
  isScope,
  keyNameProblem,
  passwordProblem,
  PROJECT_NAME_PATTERN,
  SELF_APPROVAL_KEY_WARNING,
  trustRuleFields,
  type TrustRuleInput,
  slackUserIdProblem,
} from './rules.js'
import { isStoreError } from '../store/errors.js'

/** A refused admin change; `message` is written for the person who asked (no trailing period). */
export class AdminError extends Error {
  constructor(
    readonly code: 'invalid' | 'not_found' | 'conflict' | 'last_admin',
    message: string,
  ) {
    super(message)
    this.name = 'AdminError'
  }
}

/** A policy document refused whole: every error, each with its line and field. */
export class PolicyDocumentError extends AdminError {
  constructor(readonly errors: readonly PolicyError[]) {
    super('invalid', `the policy document is invalid, nothing was changed:\n${formatPolicyErrors(errors).join('\n')}`)
    this.name = 'PolicyDocumentError'
  }
}

export function isAdminError(error: unknown): error is AdminError {
  return error instanceof AdminError
}

/** Who makes a change: a member's email, or `cli` for the operator at the command line. */
export type AdminActor = string

/**
 * The audit event of an admin change made by `actor` at `at` (ms), as the services hand it to
 * the store's mutation, which appends it in the change's own transaction.
 */
export function adminChange(type: AdminEventType, actor: AdminActor, subject: string, detail: string | null, at: number): AdminChange {
  return { type, actor, subject, detail, at: new Date(at).toISOString() }
}

export interface CreatedKey {
  key: string
  info: ApiKeyInfo
  /** Set when the key could approve its own requests (request + decide, or admin). */
  warning: string | null
}

export interface CreatedInvitation {
  invitation: Invitation
  /** The link's secret, shown once; only its sha256 is stored. */
  token: string
}

/**
 * Stored as the password hash of accounts created by a single sign-on: no password matches
 * it (`verifyPassword` only accepts scrypt hashes), so they sign in through the provider.
 */
export const SSO_ONLY_PASSWORD_HASH = '!sso-only'

export interface AdminServiceOptions {
  /** Clock for invitation expiry (tests). */
  now?: () => number
}

export class AdminService {
  private readonly now: () => number

  constructor(
    private readonly store: Store,
    options: AdminServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now
  }

  // --- projects ----------------------------------------------------------------------------

  /** A new project and its first API key (scope `request`, shown once). */
  async createProject(name: string, actor: AdminActor): Promise<{ project: Project; apiKey: string }> {
    const trimmed = name.trim()
    if (!PROJECT_NAME_PATTERN.test(trimmed)) throw new AdminError('invalid', 'a project name is 1–100 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit')
    let project: Project
    try {
      project = await this.store.createProject(trimmed)
    } catch (error) {
      if (isStoreError(error, 'conflict')) throw new AdminError('conflict', `a project named ${JSON.stringify(trimmed)} already exists`)
      throw error
    }
    const key = await this.createKey(project, actor, { name: 'first-key', scopes: ['request'] })
    return { project, apiKey: key.key }
  }

  // --- members and invitations ------------------------------------------------------------

  /**
   * Invites `email` to the project. Always a new invitation with its own link, whether or not
   * the email has an account, so the answer reveals nothing about other projects' users.
   */
  async invite(project: Project, actor: AdminActor, input: { email: string; role: string; githubLogin: string }): Promise<CreatedInvitation> {
    const email = input.email.trim()
    const login = input.githubLogin.trim().replace(/^@/, '')
    check(emailProblem(email))
    if (!isRole(input.role)) throw new AdminError('invalid', 'choose the role member or admin')
    check(githubLoginProblem(login))
    // Only this project's members are told apart (the members page lists them anyway).
    if ((await this.store.listMembers(project.id)).some((m) => m.email.toLowerCase() === email.toLowerCase())) {
      throw new AdminError('conflict', `${email} is already a member of this project`)
    }
    const token = randomToken(32)
    const invitation = await this.store.createInvitation(
      {
        project_id: project.id,
        email,
        role: input.role,
        github_login: login || null,
        token_hash: hashToken(token),
        created_by: actor,
        expires_at: new Date(this.now() + INVITATION_TTL_MS).toISOString(),
      },
      (created) => this.change('invitation_created', actor, `invitation:${email}`, `role ${created.role}${created.github_login ? `, GitHub ${created.github_login}` : ''}, expires ${created.expires_at}`),
    )
    return { invitation, token }
  }

  /** An invitation that can still be accepted, by its link's token; null otherwise (unknown, used, revoked, expired). */
  async openInvitation(token: string): Promise<Invitation | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null
    const invitation = await this.store.getInvitationByToken(hashToken(token))
    if (!invitation || invitation.accepted_at || invitation.revoked_at) return null
    return Date.parse(invitation.expires_at) > this.now() ? invitation : null
  }

  /** Accepts an invitation as an existing, signed-in account (which must be the invited email). */
  async acceptAsUser(token: string, user: User): Promise<Invitation | null> {
    const accepted = await this.store.acceptInvitation(hashToken(token), { user_id: user.id }, new Date(this.now()).toISOString(), this.acceptance)
    return accepted?.invitation ?? null
  }

  /** Accepts an invitation by creating the invited account with `password`; null when the link is spent or the account exists. */
  async acceptAsNewUser(token: string, password: string): Promise<{ invitation: Invitation; user: User } | null> {
    check(passwordProblem(password))
    return this.store.acceptInvitation(hashToken(token), { new_password_hash: await hashPassword(password) }, new Date(this.now()).toISOString(), this.acceptance)
  }

  /** Accepts an invitation by creating the invited account for a verified single sign-on (no password); null when the link is spent or the account exists. */
  async acceptAsSsoUser(token: string): Promise<{ invitation: Invitation; user: User } | null> {
    return this.store.acceptInvitation(hashToken(token), { new_password_hash: SSO_ONLY_PASSWORD_HASH }, new Date(this.now()).toISOString(), this.acceptance)
  }

  /**
   * The first single sign-on of a verified email with no account, when the server names a
   * default project: a new account (no password) that joins it as a member.
   */
  async joinOnFirstSignIn(projectName: string, email: string): Promise<User> {
    check(emailProblem(email))
    const project = await this.store.getProjectByName(projectName)
    if (!project) throw new AdminError('not_found', `the default project ${JSON.stringify(projectName)} for new sign-ins does not exist`)
    let user: User
    try {
      user = await this.store.createUser({ email, password_hash: SSO_ONLY_PASSWORD_HASH })
    } catch (error) {
      // Two first sign-ins at once: the other one created it.
      const existing = isStoreError(error, 'conflict') ? await this.store.getUserByEmail(email) : null
      if (!existing) throw error
      const { password_hash: _hash, ...other } = existing
      return other
    }
    await this.store.setMembership(project.id, user.id, 'member', {}, () => this.change('member_added', email, `member:${email}`, 'role member, first sign-in through single sign-on'))
    return user
  }

  async revokeInvitation(project: Project, actor: AdminActor, invitationId: string): Promise<void> {
    const open = (await this.store.listOpenInvitations(project.id)).find((i) => i.id === invitationId)
    if (!open || !(await this.store.revokeInvitation(project.id, invitationId, () => this.change('invitation_revoked', actor, `invitation:${open.email}`, null)))) {
      throw new AdminError('not_found', 'this project has no open invitation with that id')
    }
  }

  /**
   * The operator's direct path (CLI `user add`): makes the account a member, creating it with
   * `password` when it does not exist. An existing account's password is replaced only when
   * `resetPassword` (the documented recovery), which also ends all its sessions. The GitHub
   * login applies to this project's membership only.
   */
  async addMemberDirectly(
    project: Project,
    actor: AdminActor,
    input: { email: string; role: Role; githubLogin?: string; password: string },
  ): Promise<{ user: User; created: boolean; sessionsEnded: number }> {
    const email = input.email.trim()
    check(emailProblem(email))
    check(passwordProblem(input.password))
    const login = input.githubLogin?.trim().replace(/^@/, '')
    if (login !== undefined) check(githubLoginProblem(login))
    const existing = await this.store.getUserByEmail(email)
    let sessionsEnded = 0
    let user: User
    if (existing) {
      ;({ user, sessionsEnded } = await this.setPassword(existing.id, input.password))
    } else {
      user = await this.store.createUser({ email, password_hash: await hashPassword(input.password) })
    }
    const before = await this.store.getMembership(project.id, user.id)
    await this.store.setMembership(project.id, user.id, input.role, login === undefined ? {} : { github_login: login || null }, () =>
      this.change(before ? 'member_changed' : 'member_added', actor, `member:${user.email}`, `role ${input.role}${login ? `, GitHub ${login}` : ''}${existing ? ', password reset' : ''}`),
    )
    return { user, created: !existing, sessionsEnded }
  }

  /** Sets a user's password and ends every session they have (a reset locks out whoever held one). */
  async setPassword(userId: string, password: string): Promise<{ user: User; sessionsEnded: number }> {
    check(passwordProblem(password))
    const user = await this.store.setPasswordHash(userId, await hashPassword(password))
    return { user, sessionsEnded: await this.store.deleteUserSessions(userId) }
  }

  async setRole(project: Project, actor: AdminActor, userId: string, role: string): Promise<void> {
    if (!isRole(role)) throw new AdminError('invalid', 'choose the role member or admin')
    const target = await this.member(project, userId)
    if (target.lastAdmin && role !== 'admin') throw new AdminError('last_admin', 'a project needs at least one admin: make someone else admin first')
    await this.store.setMembership(project.id, userId, role, {}, () => this.change('member_changed', actor, `member:${target.email}`, `role ${role}`))
  }

  /** Links a member's GitHub login in this project only (empty unlinks). */
  async linkGithub(project: Project, actor: AdminActor, userId: string, login: string): Promise<void> {
    const clean = login.trim().replace(/^@/, '')
    check(githubLoginProblem(clean))
    const target = await this.member(project, userId)
    const linked = await this.store.setMemberGithubLogin(project.id, userId, clean || null, () => this.change('member_changed', actor, `member:${target.email}`, clean ? `GitHub ${clean}` : 'GitHub login unlinked'))
    if (!linked) throw notAMember()
  }

  /**
   * Links a member's Slack user id in this project only (empty unlinks): clicks on Slack
   * messages by that Slack user then decide as this member. One Slack user is one member.
   */
  async linkSlack(project: Project, actor: AdminActor, userId: string, slackUserId: string): Promise<void> {
    const clean = slackUserId.trim()
    check(slackUserIdProblem(clean))
    const target = await this.member(project, userId)
    let linked: boolean
    try {
      linked = await this.store.setMemberSlackUser(project.id, userId, clean || null, () => this.change('member_changed', actor, `member:${target.email}`, clean ? `Slack ${clean}` : 'Slack user unlinked'))
    } catch (error) {
      if (isStoreError(error, 'conflict')) throw new AdminError('conflict', `another member of project ${project.name} is linked to the Slack user ${clean}`)
      throw error
    }
    if (!linked) throw notAMember()
  }

  /** Removes a member and ends all their sessions, so open pages and live streams stop at once. */
  async removeMember(project: Project, actor: AdminActor, userId: string): Promise<void> {
    const target = await this.member(project, userId)
    if (target.lastAdmin) throw new AdminError('last_admin', 'you cannot remove the last admin of a project')
    if (!(await this.store.removeMembership(project.id, userId, () => this.change('member_removed', actor, `member:${target.email}`, null)))) throw notAMember()
    await this.store.deleteUserSessions(userId)
  }

  private async member(project: Project, userId: string): Promise<{ email: string; lastAdmin: boolean }> {
    const members = await this.store.listMembers(project.id)
    const member = members.find((m) => m.id === userId)
    if (!member) throw notAMember()
    const admins = members.filter((m) => m.role === 'admin').length
    return { email: member.email, lastAdmin: member.role === 'admin' && admins === 1 }
  }

  // --- API keys -----------------------------------------------------------------------------

  async createKey(project: Project, actor: AdminActor, input: { name: string; scopes: readonly string[] }): Promise<CreatedKey> {
    const name = input.name.trim()
    check(keyNameProblem(name))
    if (input.scopes.length === 0) throw new AdminError('invalid', 'choose a scope: request, decide or admin')
    for (const scope of input.scopes) if (!isScope(scope)) throw new AdminError('invalid', `unknown scope ${JSON.stringify(scope)}: use request, decide or admin`)
    const scopes = [...new Set(input.scopes)] as KeyScope[]
    const generated = newApiKey()
    const info = await this.store.createApiKey({ project_id: project.id, name, scopes, key_hash: generated.hash, prefix: generated.prefix }, (created) =>
      this.change('key_created', actor, `key:${name}`, `${created.id} scopes ${scopes.join(',')}`),
    )
    return { key: generated.key, info, warning: canRequestAndDecide(scopes) ? SELF_APPROVAL_KEY_WARNING : null }
  }

  /** Revokes a key of the project; `already` when it was revoked before. */
  async revokeKey(project: Project, actor: AdminActor, keyId: string): Promise<{ already: string | null }> {
    const key = (await this.store.listApiKeys(project.id)).find((candidate) => candidate.id === keyId)
    if (!key) throw new AdminError('not_found', `project ${project.name} has no key ${JSON.stringify(keyId)}`)
    if (key.revoked_at) return { already: key.revoked_at }
    await this.store.revokeApiKey(project.id, keyId, () => this.change('key_revoked', actor, `key:${key.name}`, key.id))
    return { already: null }
  }

  // --- trust rules (workflow identities) ----------------------------------------------------

  /** A new trust rule: workflows whose verified OIDC token matches it may request approvals in the project. */
  async addTrustRule(project: Project, actor: AdminActor, input: TrustRuleInput): Promise<TrustRule> {
    const fields = trustRuleFields(input)
    if ('problem' in fields) throw new AdminError('invalid', fields.problem)
    let rule: TrustRule
    try {
      rule = await this.store.createTrustRule({ project_id: project.id, ...fields }, (created) => this.change('trust_rule_added', actor, `trust:${created.id}`, describeTrustRule(created)))
    } catch (error) {
      if (isStoreError(error, 'invalid')) throw new AdminError('invalid', error.message)
      throw error
    }
    return rule
  }

  /** Removes a trust rule of the project: its workflows are refused from the next request. */
  async removeTrustRule(project: Project, actor: AdminActor, ruleId: string): Promise<TrustRule> {
    const rule = (await this.store.listTrustRules(project.id)).find((candidate) => candidate.id === ruleId)
    if (!rule || !(await this.store.removeTrustRule(project.id, ruleId, () => this.change('trust_rule_removed', actor, `trust:${rule.id}`, describeTrustRule(rule))))) {
      throw new AdminError('not_found', `project ${project.name} has no trust rule ${JSON.stringify(ruleId)}`)
    }
    return rule
  }

  // --- settings -----------------------------------------------------------------------------

  async updateSettings(project: Project, actor: AdminActor, patch: Partial<ProjectSettings>): Promise<Project> {
    return this.store.updateProjectSettings(project.id, patch, ({ settings: { blockSelfApproval, defaultTimeoutMs } }) =>
      this.change('settings_changed', actor, 'settings', `blockSelfApproval ${String(blockSelfApproval)}, defaultTimeoutMs ${defaultTimeoutMs}`),
    )
  }

  // --- policy -------------------------------------------------------------------------------

  /**
   * Validates the document and stores it as the project's next policy version, with a
   * `policy_set` audit event carrying its hash and `actor`. An invalid document changes nothing.
   * @throws PolicyDocumentError naming every error's line and field.
   */
  async setPolicy(project: Project, actor: AdminActor, source: string, format?: 'yaml' | 'json'): Promise<PolicyVersion> {
    const parsed = parsePolicy(source, format)
    if (!parsed.ok) throw new PolicyDocumentError(parsed.errors)
    return this.store.setPolicy({ project_id: project.id, source, format: parsed.format, hash: parsed.hash, created_by: actor, at: new Date(this.now()).toISOString() })
  }

  /** Removes the project's policy (a `policy_cleared` event); any one member approves again. */
  async clearPolicy(project: Project, actor: AdminActor): Promise<PolicyVersion> {
    const current = await this.store.getPolicy(project.id)
    if (!current) throw new AdminError('not_found', `project ${project.name} has no policy: any one member approves`)
    return this.store.setPolicy({ project_id: project.id, source: null, format: current.format, hash: '', created_by: actor, at: new Date(this.now()).toISOString() })
  }

  // --- audit --------------------------------------------------------------------------------

  /** The event of an accepted invitation: the account that accepted it joined the project. */
  private readonly acceptance = ({ invitation, user }: AcceptedInvitation): AdminChange =>
    this.change('member_added', user.email, `member:${user.email}`, `accepted invitation ${invitation.id}, role ${invitation.role}`)

  private change(type: AdminEventType, actor: AdminActor, subject: string, detail: string | null): AdminChange {
    return adminChange(type, actor, subject, detail, this.now())
  }
}

function check(problem: string | null): void {
  if (problem) throw new AdminError('invalid', problem)
}

function notAMember(): AdminError {
  return new AdminError('not_found', 'that person is not a member of this project')
}
