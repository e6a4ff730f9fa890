/**
 * The idle timer of a data call: how long an upload or a download may wait
 * with no progress before it fails with `DataChannelTimeout` (see
 * `DataCallOptions.idleTimeout`).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect } from "effect"

/**
 * A call's waits, timed: the call says when a wait begins and ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdleTimer {
  /** A wait began: `expire` is called if it lasts the idle timeout. */
  readonly begin: (expire: (after: Duration.Duration) => void) => void
  /** The wait ended. */
  readonly end: () => void
}

const noIdleTimer: IdleTimer = { begin: () => {}, end: () => {} }

/**
 * The idle timer of a call, for the scope's life; one that never expires
 * when `after` is undefined.
 *
 * One fiber for the call's whole life, which sleeps until the current wait
 * would expire: a fast transfer waits every few milliseconds, and a timer
 * armed and cleared for each wait cost it CPU and memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (after: Duration.Duration | undefined): Effect.Effect<IdleTimer, never, Scope.Scope> =>
  after === undefined ? Effect.succeed(noIdleTimer) : Effect.gen(function*() {
    const clock = yield* Effect.clock
    const limit = Duration.toMillis(after)
    const waiting = yield* Effect.makeLatch(false)
    let since = 0
    let expire: ((after: Duration.Duration) => void) | undefined
    // Interruptible even when the call was opened in an uninterruptible
    // region, or closing the call's scope would wait for it forever.
    yield* Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.gen(function*() {
      yield* waiting.await
      const expiring = expire
      if (expiring === undefined) return waiting.unsafeClose()
      const left = since + limit - clock.unsafeCurrentTimeMillis()
      if (left > 0) return yield* Effect.sleep(Duration.millis(left))
      expire = undefined
      waiting.unsafeClose()
      expiring(after)
    }))))
    return {
      begin: (onExpiry) => {
        since = clock.unsafeCurrentTimeMillis()
        expire = onExpiry
        waiting.unsafeOpen()
      },
      end: () => {
        expire = undefined
      }
    }
  })
