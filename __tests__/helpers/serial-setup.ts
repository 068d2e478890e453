/**
 * Runs before every file of the `serial` Jest project (browser, end-to-end, fault and replica
 * suites; see jest.config.js). Those tests drive real processes and Chromium, so they get 60 s
 * each; Playwright's default timeout (helpers/browser.ts) stays well under it, so a stuck step
 * fails with Playwright's message naming the step instead of Jest's bare timeout.
 */
import { jest } from '@jest/globals'

jest.setTimeout(60_000)
