/**
 * Entry point of the bundle (`dist/index.js`), for both the main step and the post step:
 * the main step saves `isPost` first, so when the runner starts this file again as the post
 * step, it runs `cleanup()` instead.
 */
import { listenForCancellation } from './cancellation.js'
import { run } from './main.js'
import { cleanup } from './post.js'
import { isPost, markMainStarted } from './state.js'

if (isPost()) {
  await cleanup()
} else {
  markMainStarted()
  const cancellation = listenForCancellation()
  await run({ signal: cancellation.signal })
  cancellation.dispose()
  // Cancelled: the outcome is reported; don't let idle keep-alive sockets delay the exit.
  if (cancellation.signal.aborted) process.exit()
}
