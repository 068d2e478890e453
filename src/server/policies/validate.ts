/**
 * Turning a read document into a `Policy`, or into every error it has. Unknown fields are
 * errors (a typo such as `requried` must not silently weaken a rule), and a rule that the
 * people it lists could never satisfy is refused rather than left to block requests forever.
 */
import { InvalidDurationError, parseDuration } from '../../shared/duration.js'
import { MAX_TIMEOUT_MS } from '../../contract/limits.js'
import { assignToRequirements, type Candidate } from './assignment.js'
import { formatPath, type PathSegment, type ReadDocument } from './document.js'
import {
  MAX_LISTED_MEMBERS,
  MAX_MATCH_VALUES,
  MAX_POLICY_GROUPS,
  MAX_POLICY_NAME_CHARS,
  MAX_POLICY_RULES,
  MAX_POLICY_VALUE_CHARS,
  MAX_REQUIRED_APPROVALS,
  MAX_WINDOWS,
  MEMBER_EMAIL_PATTERN,
  POLICY_NAME_PATTERN,
} from './limits.js'
import { isValidTimeZone, parseClock } from './wall-clock.js'
import {
  WEEKDAYS,
  type ApprovalWindow,
  type Policy,
  type PolicyError,
  type PolicyMatch,
  type PolicyRule,
  type ReasonRequirement,
  type RejectMode,
  type RuleBody,
  type Weekday,
} from './types.js'

/** The requester claims a rule may match on (verified claims only, never the free context). */
export const MATCHABLE_CLAIMS = ['repository', 'ref', 'environment', 'workflow_ref', 'actor', 'triggering_actor', 'event_name'] as const
const REASON_REQUIREMENTS: readonly ReasonRequirement[] = ['none', 'approve', 'reject', 'both']
const REJECT_MODES: readonly RejectMode[] = ['any', 'quorum']
/** The requirement name of an overall N-of-M. */
export const OVERALL_REQUIREMENT = 'approvers'

const TOP_FIELDS = ['groups', 'rules', 'default']
const BODY_FIELDS = ['approvers', 'block_self_approval', 'require_reason', 'reject', 'max_timeout', 'windows']
const RULE_FIELDS = ['name', 'match', ...BODY_FIELDS]
const MATCH_FIELDS = ['action', 'requester', 'context']
const COUNT_FIELDS = ['required', 'members', 'groups']
const ALL_OF_FIELDS = ['name', 'group', ...COUNT_FIELDS]
const WINDOW_FIELDS = ['days', 'from', 'to', 'time_zone']

type Path = readonly PathSegment[]
type Requirements = RuleBody['requirements']

/** Validates a read document; errors are sorted by line. */
export function validatePolicy(document: ReadDocument): { ok: true; policy: Policy } | { ok: false; errors: PolicyError[] } {
  const errors: PolicyError[] = []
  const report = (path: Path, message: string): void => {
    errors.push({ line: document.lineOf(path), path: formatPath(path), message })
  }
  const policy = new Validator(report).document(document.value)
  if (errors.length > 0 || !policy) {
    errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
    return { ok: false, errors }
  }
  return { ok: true, policy }
}

class Validator {
  private groups: Record<string, string[]> = {}

  constructor(private readonly report: (path: Path, message: string) => void) {}

  document(value: unknown): Policy | null {
    const top = this.mapping(value, [], TOP_FIELDS)
    if (!top) return null
    this.groups = top.groups === undefined ? {} : this.groupList(top.groups, ['groups'])
    const rules = top.rules === undefined ? [] : this.rules(top.rules, ['rules'])
    const defaultMap = top.default === undefined ? null : this.mapping(top.default, ['default'], BODY_FIELDS)
    const defaultBody = defaultMap ? this.body(defaultMap, ['default']) : anyOneMember()
    return { groups: this.groups, rules, default: defaultBody }
  }

  private groupList(value: unknown, path: Path): Record<string, string[]> {
    const map = this.mapping(value, path, null)
    const groups: Record<string, string[]> = {}
    if (!map) return groups
    const names = Object.keys(map)
    if (names.length > MAX_POLICY_GROUPS) this.report(path, `a policy has at most ${MAX_POLICY_GROUPS} groups (found ${names.length})`)
    for (const name of names) {
      if (!this.name(name, [...path, name], 'a group name')) continue
      const members = this.emails(map[name], [...path, name])
      if (members && members.length === 0) this.report([...path, name], 'a group lists at least one member')
      groups[name] = members ?? []
    }
    return groups
  }

  private rules(value: unknown, path: Path): PolicyRule[] {
    if (!Array.isArray(value)) {
      this.report(path, 'must be a list of rules')
      return []
    }
    if (value.length > MAX_POLICY_RULES) this.report(path, `a policy has at most ${MAX_POLICY_RULES} rules (found ${value.length})`)
    const rules: PolicyRule[] = []
    const seen = new Set<string>()
    value.forEach((item, index) => {
      const rulePath = [...path, index]
      const map = this.mapping(item, rulePath, RULE_FIELDS)
      if (!map) return
      const name = this.ruleName(map.name, [...rulePath, 'name'])
      if (name !== null && seen.has(name)) this.report([...rulePath, 'name'], `another rule is already named "${name}": rule names are unique`)
      if (name !== null) seen.add(name)
      const match = map.match === undefined ? (this.report(rulePath, 'a rule needs `match` (at least `match.action`)'), null) : this.match(map.match, [...rulePath, 'match'])
      const body = this.body(map, rulePath)
      if (name !== null && match) rules.push({ name, match, ...body })
    })
    return rules
  }

  private ruleName(value: unknown, path: Path): string | null {
    if (value === undefined) {
      this.report(path.slice(0, -1), 'a rule needs a `name`')
      return null
    }
    if (typeof value !== 'string' || value.trim() === '') {
      this.report(path, 'must be a non-empty text')
      return null
    }
    if (value.length > MAX_POLICY_NAME_CHARS) {
      this.report(path, `is at most ${MAX_POLICY_NAME_CHARS} characters`)
      return null
    }
    if (value === 'default') {
      this.report(path, '"default" is the name of the project default; choose another rule name')
      return null
    }
    return value
  }

  private match(value: unknown, path: Path): PolicyMatch | null {
    const map = this.mapping(value, path, MATCH_FIELDS)
    if (!map) return null
    const actions = map.action === undefined ? null : this.texts(map.action, [...path, 'action'])
    if (map.action === undefined) this.report(path, '`match.action` is required: one or more globs on the action name')
    const requester: Record<string, string[]> = {}
    const requesterMap = map.requester === undefined ? {} : this.mapping(map.requester, [...path, 'requester'], MATCHABLE_CLAIMS)
    for (const [claim, globs] of Object.entries(requesterMap ?? {})) {
      const values = this.texts(globs, [...path, 'requester', claim])
      if (values) requester[claim] = values
    }
    const context: Record<string, string[]> = {}
    const contextMap = map.context === undefined ? {} : this.mapping(map.context, [...path, 'context'], null)
    for (const [key, allowed] of Object.entries(contextMap ?? {})) {
      const values = this.texts(allowed, [...path, 'context', key], true)
      if (values) context[key] = values
    }
    return actions ? { actions, requester, context } : null
  }

  /** The parts shared by rules and the default (`map`'s fields are already checked). */
  private body(map: Record<string, unknown>, path: Path): RuleBody {
    const requirements = map.approvers === undefined ? anyOneMember().requirements : this.approvers(map.approvers, [...path, 'approvers'])
    return {
      requirements,
      block_self_approval: map.block_self_approval === undefined ? null : this.boolean(map.block_self_approval, [...path, 'block_self_approval']),
      require_reason: this.oneOf(map.require_reason, [...path, 'require_reason'], REASON_REQUIREMENTS, 'none'),
      reject: this.oneOf(map.reject, [...path, 'reject'], REJECT_MODES, 'any'),
      max_timeout_ms: map.max_timeout === undefined ? null : this.duration(map.max_timeout, [...path, 'max_timeout']),
      windows: map.windows === undefined ? [] : this.windows(map.windows, [...path, 'windows']),
    }
  }

  private approvers(value: unknown, path: Path): Requirements {
    const map = this.mapping(value, path, ['all_of', ...COUNT_FIELDS])
    if (!map) return anyOneMember().requirements
    let requirements: Requirements
    if (map.all_of !== undefined) {
      const mixed = COUNT_FIELDS.filter((field) => map[field] !== undefined)
      if (mixed.length > 0) this.report(path, `use either \`all_of\` or \`required\`/\`members\`/\`groups\`, not both (found ${mixed.join(', ')})`)
      requirements = this.allOf(map.all_of, [...path, 'all_of'])
    } else {
      const requirement = this.requirement(map, path, OVERALL_REQUIREMENT)
      requirements = requirement ? [requirement] : []
    }
    if (requirements.length > 0) this.checkSatisfiable(requirements, path)
    return requirements.length > 0 ? requirements : anyOneMember().requirements
  }

  private allOf(value: unknown, path: Path): Requirements {
    if (!Array.isArray(value) || value.length === 0) {
      this.report(path, 'must be a non-empty list such as [{group: sre, required: 1}, {group: security, required: 1}]')
      return []
    }
    const requirements: Requirements = []
    const names = new Set<string>()
    value.forEach((item, index) => {
      const itemPath = [...path, index]
      const map = this.mapping(item, itemPath, ALL_OF_FIELDS)
      if (!map) return
      let name: string | null
      if (map.name !== undefined) name = this.name(map.name, [...itemPath, 'name'], 'a requirement name')
      else if (typeof map.group === 'string') name = map.group
      else {
        this.report(itemPath, 'each `all_of` entry names a `group`, or has a `name` with its `members`/`groups`')
        return
      }
      if (map.group !== undefined && map.groups !== undefined) {
        this.report([...itemPath, 'group'], 'use `group` for one group or `groups` for several, not both')
        return
      }
      const counted = { ...map, groups: map.group !== undefined ? [map.group] : map.groups }
      const requirement = this.requirement(counted, itemPath, name ?? '', map.group !== undefined ? 'group' : 'groups')
      if (name === null || !requirement) return
      if (names.has(name)) {
        this.report(itemPath, `another entry is already named "${name}": give each entry its own \`name\``)
        return
      }
      names.add(name)
      requirements.push(requirement)
    })
    return requirements
  }

  private requirement(map: Record<string, unknown>, path: Path, name: string, groupsField = 'groups'): Requirements[number] | null {
    if (map.required === undefined) {
      this.report(path, '`required` is missing: how many approvals this needs')
      return null
    }
    const required = map.required
    if (typeof required !== 'number' || !Number.isInteger(required) || required < 1 || required > MAX_REQUIRED_APPROVALS) {
      this.report([...path, 'required'], `must be a whole number from 1 to ${MAX_REQUIRED_APPROVALS}`)
      return null
    }
    const members = map.members === undefined ? [] : this.emails(map.members, [...path, 'members'])
    const groups = map.groups === undefined ? [] : this.groupNames(map.groups, [...path, groupsField])
    if (!members || !groups) return null
    if (map.members !== undefined && map.groups === undefined && members.length === 0) {
      this.report([...path, 'members'], 'lists no one: leave `members` out to let any project member approve')
      return null
    }
    const anyone = map.members === undefined && map.groups === undefined
    return { name, members: anyone ? null : members, groups, required }
  }

  /** Refuses requirements that the listed people can never meet, one person counting once. */
  private checkSatisfiable(requirements: Requirements, path: Path): void {
    const candidates = new Map<string, number[]>()
    requirements.forEach((requirement, index) => {
      if (requirement.members === null) {
        for (let slot = 0; slot < requirement.required; slot += 1) candidates.set(`anyone:${index}:${slot}`, [index])
        return
      }
      for (const person of this.peopleOf(requirement)) candidates.set(person, [...(candidates.get(person) ?? []), index])
    })
    const listed: Candidate[] = [...candidates].map(([id, eligible]) => ({ id, eligible }))
    const filled = assignToRequirements(listed, requirements.map((requirement) => requirement.required)).size
    const needed = requirements.reduce((sum, requirement) => sum + requirement.required, 0)
    if (filled < needed) {
      this.report(path, `can never be met: it needs ${needed} approval${needed === 1 ? '' : 's'} from different people, but the people it lists can give at most ${filled} (one person counts once)`)
    }
  }

  private peopleOf(requirement: Requirements[number]): string[] {
    return [...new Set([...(requirement.members ?? []), ...requirement.groups.flatMap((group) => this.groups[group] ?? [])])]
  }

  private windows(value: unknown, path: Path): ApprovalWindow[] {
    if (!Array.isArray(value)) {
      this.report(path, 'must be a list of windows such as {days: [mon, tue], from: "09:00", to: "17:00", time_zone: Europe/Berlin}')
      return []
    }
    if (value.length > MAX_WINDOWS) this.report(path, `a rule has at most ${MAX_WINDOWS} windows`)
    const windows: ApprovalWindow[] = []
    value.forEach((item, index) => {
      const window = this.window(item, [...path, index])
      if (window) windows.push(window)
    })
    return windows
  }

  private window(value: unknown, path: Path): ApprovalWindow | null {
    const map = this.mapping(value, path, WINDOW_FIELDS)
    if (!map) return null
    const missing = WINDOW_FIELDS.filter((field) => map[field] === undefined)
    if (missing.length > 0) {
      this.report(path, `a window needs ${missing.map((field) => `\`${field}\``).join(', ')}`)
      return null
    }
    const days = this.days(map.days, [...path, 'days'])
    const from = this.clock(map.from, [...path, 'from'], false)
    const to = this.clock(map.to, [...path, 'to'], true)
    let timeZone: string | null = null
    if (typeof map.time_zone !== 'string' || !isValidTimeZone(map.time_zone)) {
      this.report([...path, 'time_zone'], 'must be an IANA time zone such as Europe/Berlin, America/New_York or UTC')
    } else {
      timeZone = map.time_zone
    }
    if (from !== null && to !== null && parseClock(from)! >= parseClock(to)!) {
      this.report([...path, 'to'], `must be later than \`from\` (${from}); for a window across midnight write two windows, one ending at 24:00 and one starting at 00:00`)
      return null
    }
    if (!days || from === null || to === null || timeZone === null) return null
    return { days, from, to, time_zone: timeZone }
  }

  private days(value: unknown, path: Path): Weekday[] | null {
    const list = typeof value === 'string' ? [value] : value
    const valid = Array.isArray(list) && list.length > 0 && list.every((day) => typeof day === 'string' && (WEEKDAYS as readonly string[]).includes(day.toLowerCase()))
    if (!valid) {
      this.report(path, `must list weekdays from ${WEEKDAYS.join(', ')}`)
      return null
    }
    return [...new Set((list as string[]).map((day) => day.toLowerCase() as Weekday))]
  }

  private clock(value: unknown, path: Path, allowEndOfDay: boolean): string | null {
    const minutes = typeof value === 'string' ? parseClock(value) : null
    if (minutes === null || (!allowEndOfDay && minutes === 24 * 60)) {
      this.report(path, `must be a time "HH:MM" from 00:00 to ${allowEndOfDay ? '24:00' : '23:59'} (quote it in YAML)`)
      return null
    }
    return value as string
  }

  private duration(value: unknown, path: Path): number | null {
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.report(path, 'must be a duration such as 30m, 2h or 1h30m')
      return null
    }
    try {
      return parseDuration(String(value), { maxMs: MAX_TIMEOUT_MS })
    } catch (error) {
      if (!(error instanceof InvalidDurationError)) throw error
      this.report(path, error.message)
      return null
    }
  }

  private boolean(value: unknown, path: Path): boolean | null {
    if (typeof value === 'boolean') return value
    this.report(path, 'must be true or false')
    return null
  }

  private oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[], fallback: T): T {
    if (value === undefined) return fallback
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
    this.report(path, `must be one of ${allowed.join(', ')}`)
    return fallback
  }

  private name(value: unknown, path: Path, what: string): string | null {
    if (typeof value === 'string' && value.length <= MAX_POLICY_NAME_CHARS && POLICY_NAME_PATTERN.test(value)) return value
    this.report(path, `${what} is 1–${MAX_POLICY_NAME_CHARS} letters, digits, dots, dashes or underscores, starting with a letter or digit`)
    return null
  }

  private groupNames(value: unknown, path: Path): string[] | null {
    const names = this.texts(value, path)
    if (!names) return null
    const unknown = names.filter((name) => !Object.hasOwn(this.groups, name))
    if (unknown.length > 0) {
      const known = Object.keys(this.groups)
      this.report(path, `no group named ${unknown.map((name) => `"${name}"`).join(', ')} (${known.length > 0 ? `groups: ${known.join(', ')}` : 'the document defines no `groups`'})`)
      return null
    }
    return [...new Set(names)]
  }

  private emails(value: unknown, path: Path): string[] | null {
    if (!Array.isArray(value) || value.length > MAX_LISTED_MEMBERS) {
      this.report(path, `must be a list of at most ${MAX_LISTED_MEMBERS} email addresses`)
      return null
    }
    const bad = value.filter((item) => typeof item !== 'string' || !MEMBER_EMAIL_PATTERN.test(item.trim()))
    if (bad.length > 0) {
      this.report(path, `not an email address: ${bad.slice(0, 3).map((item) => JSON.stringify(item)).join(', ')}`)
      return null
    }
    return [...new Set((value as string[]).map((email) => email.trim().toLowerCase()))]
  }

  /** A text or list of texts; numbers and booleans too when `scalars` (context values compare as text). */
  private texts(value: unknown, path: Path, scalars = false): string[] | null {
    const list = Array.isArray(value) ? value : [value]
    const isText = (item: unknown): boolean =>
      (typeof item === 'string' && item !== '' && item.length <= MAX_POLICY_VALUE_CHARS) || (scalars && (typeof item === 'number' || typeof item === 'boolean'))
    if (list.length === 0 || list.length > MAX_MATCH_VALUES || !list.every(isText)) {
      this.report(path, `must be a text or a list of 1–${MAX_MATCH_VALUES} texts (each 1–${MAX_POLICY_VALUE_CHARS} characters)`)
      return null
    }
    return list.map(String)
  }

  /** A mapping whose keys are all in `fields` (any keys when `fields` is null). */
  private mapping(value: unknown, path: Path, fields: readonly string[] | null): Record<string, unknown> | null {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.report(path, path.length === 0 ? 'the document must be a mapping with `groups`, `rules` and `default`' : 'must be a mapping (key: value)')
      return null
    }
    const map = value as Record<string, unknown>
    if (fields) {
      for (const key of Object.keys(map)) {
        if (!fields.includes(key)) this.report([...path, key], `unknown field "${key}" (allowed: ${fields.join(', ')})`)
      }
    }
    return map
  }
}

/** The seed's behaviour: any one project member approves. */
export function anyOneMember(): RuleBody {
  return {
    requirements: [{ name: OVERALL_REQUIREMENT, members: null, groups: [], required: 1 }],
    block_self_approval: null,
    require_reason: 'none',
    reject: 'any',
    max_timeout_ms: null,
    windows: [],
  }
}
