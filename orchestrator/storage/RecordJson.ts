/**
 * A backup's record as kept on disk, and the rules a record read back must
 * follow: the same as a request's (`Names.ts`: for backup names, manager,
 * agent and fragment ids, file names), because a record can be edited by
 * hand and every name in it becomes a path.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { agentIdProblem, backupNameProblem, fileNameProblem, idProblem } from "../Names.js"
import { quote } from "../Quote.js"

/** A string that passes `problem`, which says in a full sentence what is wrong. */
const checked = (problem: (value: string) => string | undefined) =>
  Schema.String.pipe(Schema.filter((value) => problem(value) ?? true))

/** An id rule, in a sentence that names the field and (the start of) the id. */
const idRule = (what: string, rule: (id: string) => string | undefined) => (id: string) => {
  const problem = rule(id)
  return problem === undefined ? undefined : `the ${what} ${JSON.stringify(quote(id, 100))} ${problem}`
}

const ManagerId = checked(idRule("backup manager id", idProblem))
const AgentId = checked(idRule("agent id", agentIdProblem))
const FragmentId = checked(idRule("fragment id", idProblem))
const BackupName = checked(backupNameProblem)
const FileName = checked(fileNameProblem)

/**
 * A software version as a backup records it, with the agent and its API version.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RecordedSoftwareVersionJson = Schema.Struct({
  agentId: AgentId,
  apiVersion: Schema.String,
  productName: Schema.String,
  productNumber: Schema.String,
  revision: Schema.String,
  productionDate: Schema.String,
  description: Schema.String,
  type: Schema.String,
  commercialVersion: Schema.String,
  semanticVersion: Schema.String
})

/**
 * A file the orchestrator stored: its name, size and MD5 (32 hex digits).
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredFileJson = Schema.Struct({
  name: FileName,
  size: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  checksum: Schema.String.pipe(Schema.pattern(/^[0-9A-Fa-f]{32}$/, { message: () => "a checksum is 32 hex digits" }))
})

/**
 * A fragment the orchestrator stored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredFragmentJson = Schema.Struct({
  agentId: AgentId,
  fragmentId: FragmentId,
  version: Schema.String,
  sizeInBytes: Schema.String,
  customInformation: Schema.Record({ key: Schema.String, value: Schema.String }),
  backupFile: StoredFileJson,
  customMetadataFile: Schema.optional(StoredFileJson)
})

/** What holds across fields: each agent once, each fragment once and of a recorded agent. */
const consistency = (record: {
  readonly softwareVersions: ReadonlyArray<{ readonly agentId: string }>
  readonly fragments: ReadonlyArray<{ readonly agentId: string; readonly fragmentId: string }>
}): string | undefined => {
  const agents = new Set<string>()
  for (const { agentId } of record.softwareVersions) {
    if (agents.has(agentId)) return `agent ${agentId} is recorded twice`
    agents.add(agentId)
  }
  const fragments = new Set<string>()
  for (const { agentId, fragmentId } of record.fragments) {
    if (!agents.has(agentId)) return `fragment ${fragmentId} belongs to agent ${agentId}, which is not recorded`
    const key = `${agentId}/${fragmentId}`
    if (fragments.has(key)) return `fragment ${fragmentId} of agent ${agentId} is recorded twice`
    fragments.add(key)
  }
  return undefined
}

/**
 * The JSON record of a backup as kept on disk.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackupRecordJson = Schema.Struct({
  name: BackupName,
  backupManagerId: ManagerId,
  status: Schema.Literal("COMPLETE", "INCOMPLETE", "CORRUPTED"),
  creationTime: Schema.String.pipe(
    Schema.filter((time) => !Number.isNaN(Date.parse(time)) || "the creation time is not a date")
  ),
  softwareVersions: Schema.Array(RecordedSoftwareVersionJson),
  fragments: Schema.Array(StoredFragmentJson)
}).pipe(Schema.filter((record) => consistency(record) ?? true))
