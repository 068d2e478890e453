// Fails clearly when npm scripts run on a Node older than 24 (for example when the
// `node` devDependency's preinstall was skipped), instead of a misleading module error later.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  console.error(
    `approval-gate needs Node.js >= 24 but npm scripts run on ${process.version}.\n` +
      'Run `npm install` (it installs Node 24 into node_modules/.bin) and allow the `node` package install script.',
  )
  process.exit(1)
}
