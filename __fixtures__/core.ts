/**
 * One reusable mock of `@actions/core` for `jest.unstable_mockModule('@actions/core', () => core)`.
 * Inputs and state come from plain maps (`setInputs`, `setState`); everything the code writes
 * (outputs, saved state, the summary buffer) is captured for assertions. Call `resetCore()` in
 * `beforeEach`.
 */
import type * as actionsCore from '@actions/core'
import { jest } from '@jest/globals'

const inputs = new Map<string, string>()
const state = new Map<string, string>()
/** `saveState` calls, by name (last value wins). */
export const savedState = new Map<string, string>()
/** `setOutput` calls, by name (last value wins). */
export const outputs = new Map<string, string>()
/** Everything passed to `summary.addRaw` since the last reset. */
export const summaryWrites: string[] = []

/** Sets the inputs `getInput` answers (names as in action.yml); others read as ''. */
export function setInputs(values: Record<string, string>): void {
  inputs.clear()
  for (const [name, value] of Object.entries(values)) inputs.set(name, value)
}

/** Sets what `getState` answers, as the runner would for a post step. */
export function setState(values: Record<string, string>): void {
  state.clear()
  for (const [name, value] of Object.entries(values)) state.set(name, value)
}

export const getInput = jest.fn<typeof actionsCore.getInput>((name, options) => {
  const value = inputs.get(name) ?? ''
  const trimmed = options?.trimWhitespace === false ? value : value.trim()
  if (options?.required && trimmed === '') throw new Error(`Input required and not supplied: ${name}`)
  return trimmed
})
export const getState = jest.fn<typeof actionsCore.getState>((name) => state.get(name) ?? '')
export const saveState = jest.fn<typeof actionsCore.saveState>((name, value) => {
  savedState.set(name, String(value))
})
export const setOutput = jest.fn<typeof actionsCore.setOutput>((name, value) => {
  outputs.set(name, String(value))
})
export const setSecret = jest.fn<typeof actionsCore.setSecret>()
export const setFailed = jest.fn<typeof actionsCore.setFailed>()
export const debug = jest.fn<typeof actionsCore.debug>()
export const info = jest.fn<typeof actionsCore.info>()
export const notice = jest.fn<typeof actionsCore.notice>()
export const warning = jest.fn<typeof actionsCore.warning>()
export const error = jest.fn<typeof actionsCore.error>()
export const isDebug = jest.fn<typeof actionsCore.isDebug>(() => false)
/** The runner's OIDC token; tests set what it resolves to. */
export const getIDToken = jest.fn<typeof actionsCore.getIDToken>(async (audience) => `header.${Buffer.from(JSON.stringify({ aud: audience, exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url')}.sig`)

/** A chainable stand-in for `core.summary` that records what would be written. */
export const summary = {
  addRaw: jest.fn((text: string) => {
    summaryWrites.push(text)
    return summary
  }),
  write: jest.fn(async () => summary),
  emptyBuffer: jest.fn(() => summary),
}

/** Clears captured values, inputs and state, and the mocks' call records (keeping implementations). */
export function resetCore(): void {
  inputs.clear()
  state.clear()
  savedState.clear()
  outputs.clear()
  summaryWrites.length = 0
  jest.clearAllMocks()
}
