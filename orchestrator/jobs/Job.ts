/**
 * The running action (a job): who takes part, which stage it is in, the
 * data calls open in that stage and the fragments that failed or arrived.
 * The job runner makes one per backup or restore; the data handlers see it
 * as a `Job`.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, Ref, SubscriptionRef } from "effect"
import type { AgentConnection } from "../AgentRegistry.js"
import type { BackupRecord, StoredFragment } from "../Model.js"
import type { JobStage } from "../StageProtocol.js"

/**
 * The running action, as the data handlers see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: string
  readonly kind: "CREATE_BACKUP" | "RESTORE"
  readonly manager: string
  readonly backupName: string
  /** Fixed when the job starts, in registration order. */
  readonly participants: ReadonlyArray<AgentConnection>
  /** A restore's backup. */
  readonly restoring: BackupRecord | undefined
  readonly stage: Effect.Effect<JobStage>
  /**
   * Counts a data call of a participant as open until the scope closes: the
   * participant's stage does not end while one is.
   */
  readonly openTransfer: (agentId: string) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Records why a fragment of a participant failed: it fails the
   * participant's current stage. The first failure of a stage is the one
   * told (the later ones often follow from it).
   */
  readonly failFragment: (agentId: string, reason: string) => Effect.Effect<void>
  /**
   * Runs `commit` (which moves an upload into the backup's folder) and adds
   * its fragment, `key` (`agentId/fragmentId`), to the backup being created;
   * one sent again replaces the earlier attempt. Commits of different keys
   * run at once, of one key one after the other. Once the runner has taken
   * the backup's fragments for its record, `commit` is not run and the
   * answer is false: the folder holds no fragment its record does not list.
   */
  readonly storeFragment: <E>(key: string, commit: Effect.Effect<StoredFragment, E>) => Effect.Effect<boolean, E>
}

/**
 * How one participant is doing in the current stage.
 *
 * @since 0.1.0
 * @category models
 */
export interface Participation {
  /** Data calls of this agent still open: the stage waits for them. */
  readonly openTransfers: SubscriptionRef.SubscriptionRef<number>
  /** Why the first fragment of this agent that failed in the current stage did, if one did. */
  readonly fragmentFailure: Ref.Ref<string | undefined>
}

/**
 * A job as the runner holds it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningJob extends Job {
  readonly participation: ReadonlyMap<string, Participation>
  /** Moves to a stage: no fragment of it has failed yet. */
  readonly enter: (stage: JobStage) => Effect.Effect<void>
  /**
   * The backup's fragments, in the order they arrived, taken for its
   * record: no fragment is stored after (`storeFragment`), and one being
   * stored is waited for.
   */
  readonly takeFragments: Effect.Effect<ReadonlyArray<StoredFragment>>
}

/**
 * A job in its preparation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (fields: {
  readonly id: string
  readonly kind: Job["kind"]
  readonly manager: string
  readonly backupName: string
  readonly participants: ReadonlyArray<AgentConnection>
  readonly restoring: BackupRecord | undefined
}): Effect.Effect<RunningJob> =>
  Effect.gen(function*() {
    const participation = new Map<string, Participation>()
    for (const agent of fields.participants) {
      participation.set(agent.info.agentId, {
        openTransfers: yield* SubscriptionRef.make(0),
        fragmentFailure: yield* Ref.make<string | undefined>(undefined)
      })
    }
    const stage = yield* Ref.make<JobStage>("PREPARATION")
    // Changed only by the commits below, in place: no copy per fragment with a thousand agents.
    const fragments = new Map<string, StoredFragment>()
    // Commits of different fragments run at once (a thousand agents commit
    // at the end of the same stage, each commit a few file-system calls);
    // two of the same fragment run one after the other. The record is taken
    // once the commits in progress are done, and no commit starts after.
    const fragmentLocks = new Map<string, Effect.Semaphore>()
    let fragmentsTaken = false
    let committing = 0
    // Whoever takes the record while commits are in progress, woken by the last.
    const waitingForCommits: Array<() => void> = []
    const commitEnded = Effect.sync(() => {
      committing--
      if (committing === 0) for (const wake of waitingForCommits.splice(0)) wake()
    })
    const lockOf = (key: string) =>
      Effect.suspend(() => {
        const known = fragmentLocks.get(key)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.tap(Effect.makeSemaphore(1), (made) => Effect.sync(() => void fragmentLocks.set(key, made)))
      })
    return {
      ...fields,
      participation,
      stage: Ref.get(stage),
      enter: (next) =>
        Effect.zipRight(
          Ref.set(stage, next),
          Effect.forEach(participation.values(), (each) => Ref.set(each.fragmentFailure, undefined), { discard: true })
        ),
      openTransfer: (agentId) => {
        const open = participation.get(agentId)?.openTransfers
        return open === undefined
          ? Effect.void
          : Effect.acquireRelease(
            SubscriptionRef.update(open, (count) => count + 1),
            () => SubscriptionRef.update(open, (count) => count - 1)
          )
      },
      failFragment: (agentId, reason) => {
        const failure = participation.get(agentId)?.fragmentFailure
        return failure === undefined ? Effect.void : Ref.update(failure, (first) => first ?? reason)
      },
      storeFragment: (key, commit) =>
        Effect.flatMap(lockOf(key), (lock) =>
          lock.withPermits(1)(Effect.uninterruptibleMask((restore) =>
            Effect.suspend(() => {
              if (fragmentsTaken) return Effect.succeed(false)
              committing++
              return restore(commit).pipe(
                Effect.tap((fragment) => Effect.sync(() => void fragments.set(key, fragment))),
                Effect.as(true),
                Effect.ensuring(commitEnded)
              )
            })
          ))),
      takeFragments: Effect.suspend(() => {
        fragmentsTaken = true
        const taken = Effect.sync(() => [...fragments.values()])
        if (committing === 0) return taken
        return Effect.zipRight(
          Effect.async<void>((resume) => {
            const wake = () => resume(Effect.void)
            waitingForCommits.push(wake)
            return Effect.sync(() => {
              const index = waitingForCommits.indexOf(wake)
              if (index >= 0) waitingForCommits.splice(index, 1)
            })
          }),
          taken
        )
      })
    }
  })
