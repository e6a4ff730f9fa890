/**
 * DELETE_BACKUP: the backup's record and files go; no agent takes part.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import type { ActionContext, ActionOutcome, ActionRequest } from "./Action.js"

/**
 * Deletes a backup.
 *
 * @since 0.1.0
 * @category actions
 */
export const deleteBackup = (
  context: ActionContext,
  request: ActionRequest
): Effect.Effect<ActionOutcome, PlatformError> =>
  Effect.gen(function*() {
    const { backupName, manager } = request
    if ((yield* context.backups.find(manager, backupName)) === undefined) {
      return { success: false, info: `Backup ${backupName} does not exist in ${manager}` }
    }
    yield* context.backups.remove(manager, backupName)
    return { success: true, info: `Backup ${backupName} is deleted` }
  })
