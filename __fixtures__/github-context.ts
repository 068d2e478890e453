/**
 * `@actions/github`'s real `Context`, hydrated from a given environment instead of this
 * process's: `contextFrom({ GITHUB_REPOSITORY: 'o/r', … })`. `GITHUB_EVENT_PATH`, when given,
 * is read as the event payload, as on a runner.
 */
import * as github from '@actions/github'
import type { WorkflowContext } from '../src/action/github-context.js'

type ContextClass = new () => typeof github.context
const Context = github.context.constructor as ContextClass

export function contextFrom(env: Record<string, string | undefined>): WorkflowContext {
  const saved = { ...process.env }
  try {
    for (const name of Object.keys(process.env)) if (name.startsWith('GITHUB_')) delete process.env[name]
    for (const [name, value] of Object.entries(env)) if (name.startsWith('GITHUB_') && value !== undefined) process.env[name] = value
    const context = new Context()
    // `repo` is a getter reading process.env when called: capture its answer under `env` now.
    let repo: { owner: string; repo: string } | undefined
    let repoError: unknown
    try {
      repo = context.repo
    } catch (error) {
      repoError = error
    }
    const { payload, eventName, sha, ref, workflow, job, actor, runId, runAttempt, serverUrl } = context
    return {
      payload,
      eventName,
      sha,
      ref,
      workflow,
      job,
      actor,
      runId,
      runAttempt,
      serverUrl,
      get repo() {
        if (repo === undefined) throw repoError
        return repo
      },
    }
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
    Object.assign(process.env, saved)
  }
}
