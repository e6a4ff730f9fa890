// The bounds of what the orchestrator quotes back (issue 14, item 7), and
// its name rules (item 9), on their own: `Echoes.test.ts` and
// `Validation.test.ts` check them through the wire.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ActionRecords from "../../orchestrator/jobs/ActionRecords.js"
import * as Names from "../../orchestrator/Names.js"
import * as Quote from "../../orchestrator/Quote.js"

describe("quoting a client's string", () => {
  it("keeps a string of at most 300 characters whole, and cuts a longer one to 300 with an ellipsis", () => {
    expect(Quote.quote("a".repeat(300))).toBe("a".repeat(300))
    expect(Quote.quote("a".repeat(70_000))).toBe(`${"a".repeat(299)}…`)
  })

  it("never splits a character made of two UTF-16 units", () => {
    const quoted = Quote.quote(`a${"😀".repeat(200)}`)
    expect(quoted).toBe(`a${"😀".repeat(149)}…`)
  })

  it("cuts a status's details to 1 KiB of UTF-8 at a character's boundary", () => {
    expect(Quote.details("short")).toBe("short")
    const cut = Quote.details("漢".repeat(1000))
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024)
    expect(cut).toBe(`${"漢".repeat(340)}…`)
  })

  it.effect("bounds an action's progress and result information to 4 096 characters", () =>
    Effect.gen(function*() {
      const records = yield* ActionRecords.make()
      const record = yield* records.create("CREATE_BACKUP", "DEFAULT", "nightly")
      yield* records.update(record.id, { progressInfo: "p".repeat(70_000) })
      expect((yield* records.get(record.id)).progressInfo).toHaveLength(4096)
      const finished = yield* records.finish(record.id, { resultInfo: "r".repeat(70_000) })
      expect(finished.resultInfo).toBe(`${"r".repeat(4095)}…`)
    }))
})

describe("the orchestrator's name rules", () => {
  it("limits ids to 255 bytes of UTF-8 and refuses NUL", () => {
    expect(Names.idProblem("漢".repeat(85))).toBeUndefined()
    expect(Names.idProblem("漢".repeat(86))).toBe("must have at most 255 bytes in UTF-8, not 258")
    expect(Names.idProblem("a\0b")).toBe("must not contain NUL")
    // BRO's own rules come first.
    expect(Names.idProblem("a/b")).toBe(`must not contain "/"`)
  })

  it("refuses the agent id backup.json, and takes it as another id", () => {
    expect(Names.agentIdProblem("backup.json")).toBe(`must not be "backup.json", the name of a backup's record`)
    expect(Names.idProblem("backup.json")).toBeUndefined()
  })

  it("limits file names to 251 bytes, quoting a long one bounded", () => {
    expect(Names.fileNameProblem(`${"漢".repeat(83)}.z`)).toBeUndefined()
    expect(Names.fileNameProblem(`${"漢".repeat(83)}.sq`)).toBe(
      `the file name "${"漢".repeat(83)}.sq" must have at most 251 bytes in UTF-8, not 252`
    )
    expect(Names.fileNameProblem(`${"x".repeat(70_000)}/`)).toBe(`the file name "${"x".repeat(299)}…" contains a path separator`)
  })

  it("limits backup names to 255 bytes as well as to BRO's 200 characters", () => {
    expect(Names.backupNameProblem("漢".repeat(85))).toBeUndefined()
    expect(Names.backupNameProblem("漢".repeat(100))).toBe("the backup name must have at most 255 bytes in UTF-8, not 300")
    expect(Names.backupNameProblem("a".repeat(201))).toBe("the backup name must have at most 200 characters")
  })
})
