/**
 * Jest in native ESM mode; ts-jest transpiles TypeScript (type checks run in `npm run lint`).
 *
 * Two projects, which `npm test` runs as two Jest invocations one after the other
 * (scripts/test.sh), because Jest 30 sets the number of workers for a whole run, not per project:
 * - `unit`: everything that runs in-process or starts a few short-lived processes, on two
 *   workers (this machine has two cores).
 * - `serial`: suites that start Chromium, the built server with many clients, fault proxies,
 *   a PostgreSQL cluster (with replicas), or the Python client's pytest run — one file at a
 *   time (`--runInBand`), so they never compete with each other for the CPU. Any new
 *   `*.browser.test.ts` lands here.
 * The same pattern selects `serial` and is ignored by `unit`, so every file runs exactly once.
 */
const SERIAL = '/__tests__/(.*\\.browser\\.test\\.ts|(e2e|faults|replicas|python)/.*\\.test\\.ts|store/postgres-.*\\.test\\.ts)$'
const IGNORED = ['/node_modules/', '/lib/', '/dist/']

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
}

export default {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['**/__tests__/**/*.test.ts'], testPathIgnorePatterns: [...IGNORED, SERIAL] },
    {
      ...shared,
      displayName: 'serial',
      testRegex: SERIAL,
      testPathIgnorePatterns: IGNORED,
    },
  ],
  maxWorkers: 2,
  // Per test. Many tests start processes (the CLI, the built action, servers); on a loaded
  // 2-core machine one CLI run has taken seconds, and a test of six took over 30 s. Playwright's
  // default timeout (helpers/browser.ts, 10 s) stays well under this, so a stuck browser step
  // fails with Playwright's message naming it. (Jest reads testTimeout from the top level only.)
  testTimeout: 60_000,
  verbose: true,
}
