/**
 * Imported first by the library's entry point, so that on a Node.js older than the library
 * supports the import fails with one clear message before undici (which needs Node >= 22.19)
 * fails inside its own code.
 */
import { CLIENT_NODE, nodeVersionProblem } from '../shared/node-version.js'

const problem = nodeVersionProblem('approval-gate (the library)', CLIENT_NODE)
if (problem) throw new Error(`${problem}. Install Node.js ${CLIENT_NODE.replace(/\.0$/, '')} or newer (24 recommended).`)
