// The restore reader, one rule a row: what each message of a restore stream
// does in each state (shared/protocol/behaviour.md §6: the backup file as
// name, content chunks and checksum, then optionally the custom-metadata
// file the same way), what it refuses, and what whole streams come to.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { FragmentFile, RestoreMessage } from "../src/core/Message.js"
import { FilePart } from "../src/core/Message.js"
import { md5Of } from "../src/internal/Checksum.js"
import * as Reader from "../src/internal/RestoreReader.js"

const bytes = (text: string) => Buffer.from(text)
const name = (file: FragmentFile, fileName: string) => FilePart.FileName({ file, fileName })
const content = (file: FragmentFile, text: string) => FilePart.Content({ file, content: bytes(text) })
const checksum = (file: FragmentFile, value: string) => FilePart.Checksum({ file, checksum: value })
const unknown = (messageType: string): RestoreMessage => ({ _tag: "Unsupported", messageType })

const awaiting: Reader.ReaderState = Reader.initial
const inFile = (file: FragmentFile, fileName: string, size: number): Reader.ReaderState => ({
  _tag: "InFile",
  file,
  fileName,
  size
})
const afterBackupFile: Reader.ReaderState = { _tag: "AfterBackupFile" }
const complete: Reader.ReaderState = { _tag: "Complete" }

const refused = (reason: string, fileName?: string) => Either.left({ reason, fileName })
const accepted = (state: Reader.ReaderState, output: Reader.RestoreOutput) => Either.right({ state, output })

interface MessageRow {
  readonly rule: string
  readonly given: Reader.ReaderState
  readonly message: RestoreMessage
  readonly gives: ReturnType<typeof Reader.read>
}

// Loops rather than it.each for the tables of rules: its "$rule" would quote and cut the names.
describe("each message of a restore stream", () => {
  const rows: ReadonlyArray<MessageRow> = [
    {
      rule: "the backup file's name starts the backup file",
      given: awaiting,
      message: name("BACKUP_FILE", "dump.sql"),
      gives: accepted(inFile("BACKUP_FILE", "dump.sql", 0), { _tag: "FileStarted", file: "BACKUP_FILE", fileName: "dump.sql" })
    },
    {
      rule: "a content chunk is handed on and counted",
      given: inFile("BACKUP_FILE", "dump.sql", 5),
      message: content("BACKUP_FILE", " World!"),
      gives: accepted(inFile("BACKUP_FILE", "dump.sql", 12), { _tag: "Bytes", file: "BACKUP_FILE", bytes: bytes(" World!") })
    },
    {
      rule: "the backup file's checksum ends it, with the checksum received and the bytes counted",
      given: inFile("BACKUP_FILE", "dump.sql", 12),
      message: checksum("BACKUP_FILE", "ED076287532E86365E841E92BFC50D8C"),
      gives: accepted(afterBackupFile, {
        _tag: "FileEnded",
        file: "BACKUP_FILE",
        fileName: "dump.sql",
        checksum: "ED076287532E86365E841E92BFC50D8C",
        size: 12
      })
    },
    {
      rule: "after the backup file, the custom-metadata file's name starts it",
      given: afterBackupFile,
      message: name("CUSTOM_METADATA_FILE", "meta.json"),
      gives: accepted(inFile("CUSTOM_METADATA_FILE", "meta.json", 0), {
        _tag: "FileStarted",
        file: "CUSTOM_METADATA_FILE",
        fileName: "meta.json"
      })
    },
    {
      rule: "the custom-metadata file's checksum completes the stream",
      given: inFile("CUSTOM_METADATA_FILE", "meta.json", 2),
      message: checksum("CUSTOM_METADATA_FILE", "99914B932BD37A50B983C5E7C90AE93B"),
      gives: accepted(complete, {
        _tag: "FileEnded",
        file: "CUSTOM_METADATA_FILE",
        fileName: "meta.json",
        checksum: "99914B932BD37A50B983C5E7C90AE93B",
        size: 2
      })
    },
    {
      rule: "refuses a content chunk for a backup file that was never named",
      given: awaiting,
      message: content("BACKUP_FILE", "Hello"),
      gives: refused("a backup file chunk arrived for a file that was never named")
    },
    {
      rule: "refuses a checksum for a backup file that was never named",
      given: awaiting,
      message: checksum("BACKUP_FILE", "ED076287532E86365E841E92BFC50D8C"),
      gives: refused("a backup file chunk arrived for a file that was never named")
    },
    {
      rule: "refuses a content chunk for a custom-metadata file that was never named",
      given: afterBackupFile,
      message: content("CUSTOM_METADATA_FILE", "{}"),
      gives: refused("a custom-metadata file chunk arrived for a file that was never named")
    },
    {
      rule: "refuses a backup-file chunk after the backup file's checksum",
      given: afterBackupFile,
      message: content("BACKUP_FILE", "more"),
      gives: refused("a backup file chunk arrived for a file that was never named")
    },
    {
      rule: "refuses the custom-metadata file before the backup file",
      given: awaiting,
      message: name("CUSTOM_METADATA_FILE", "meta.json"),
      gives: refused("the custom-metadata file was named where the backup file was expected", "meta.json")
    },
    {
      rule: "refuses a second backup file",
      given: afterBackupFile,
      message: name("BACKUP_FILE", "again.sql"),
      gives: refused("the backup file was named where the custom-metadata file was expected", "again.sql")
    },
    {
      rule: "refuses an empty chunk, which the wire reads as a file name, before the file's checksum",
      given: inFile("BACKUP_FILE", "dump.sql", 5),
      message: name("BACKUP_FILE", ""),
      gives: refused("a second file name arrived before the checksum of dump.sql", "dump.sql")
    },
    {
      rule: "refuses a second file name before the file's checksum",
      given: inFile("CUSTOM_METADATA_FILE", "meta.json", 0),
      message: name("CUSTOM_METADATA_FILE", "other.json"),
      gives: refused("a second file name arrived before the checksum of meta.json", "meta.json")
    },
    {
      rule: "refuses a custom-metadata chunk inside the backup file",
      given: inFile("BACKUP_FILE", "dump.sql", 5),
      message: content("CUSTOM_METADATA_FILE", "{}"),
      gives: refused("a custom-metadata file chunk arrived inside the backup file", "dump.sql")
    },
    {
      rule: "refuses a backup-file chunk inside the custom-metadata file",
      given: inFile("CUSTOM_METADATA_FILE", "meta.json", 0),
      message: checksum("BACKUP_FILE", "ED076287532E86365E841E92BFC50D8C"),
      gives: refused("a backup file chunk arrived inside the custom-metadata file", "meta.json")
    },
    {
      rule: "refuses any message after the custom-metadata file",
      given: complete,
      message: name("CUSTOM_METADATA_FILE", "more.json"),
      gives: refused("a message arrived after the custom-metadata file was complete")
    },
    {
      rule: "refuses a message of an unknown type before any file",
      given: awaiting,
      message: unknown("METADATA"),
      gives: refused("unexpected message of type METADATA")
    },
    {
      rule: "refuses a message of an unknown type inside a file, naming the file",
      given: inFile("BACKUP_FILE", "dump.sql", 5),
      message: unknown("CUSTOM_METADATA_FILE"),
      gives: refused("unexpected message of type CUSTOM_METADATA_FILE", "dump.sql")
    },
    {
      rule: "refuses a message of an unknown type after the stream is complete",
      given: complete,
      message: unknown("BACKUP_FILE"),
      gives: refused("unexpected message of type BACKUP_FILE")
    }
  ]
  for (const { given, gives, message, rule } of rows) {
    it(rule, () => {
      expect(Reader.read(given, message)).toEqual(gives)
    })
  }
})

describe("file names that could write outside the folder are refused before anything is written", () => {
  const refusal = (problem: string) => `${problem}: refused, it could write outside the folder`
  it.each<readonly [FragmentFile, string, string]>([
    ["BACKUP_FILE", "", "the file name is empty"],
    ["BACKUP_FILE", ".", "the file name \".\" is not a file"],
    ["BACKUP_FILE", "..", "the file name \"..\" is not a file"],
    ["BACKUP_FILE", "../etc/passwd", "the file name \"../etc/passwd\" contains a path separator"],
    ["BACKUP_FILE", "/etc/passwd", "the file name \"/etc/passwd\" contains a path separator"],
    ["BACKUP_FILE", "dumps\\dump.sql", "the file name \"dumps\\dump.sql\" contains a path separator"],
    ["BACKUP_FILE", "dump.sql\0.txt", "the file name contains a NUL character"],
    ["CUSTOM_METADATA_FILE", "..", "the file name \"..\" is not a file"],
    ["CUSTOM_METADATA_FILE", "meta/../../x.json", "the file name \"meta/../../x.json\" contains a path separator"]
  ])("%s named %j", (file, fileName, problem) => {
    const state = file === "BACKUP_FILE" ? awaiting : afterBackupFile
    expect(Reader.read(state, name(file, fileName))).toEqual(refused(refusal(problem), fileName))
  })

  it.each(["dump.sql", "..dump", "dump..sql", ".hidden", "tables meta.json"])("takes the plain base name %j", (fileName) => {
    expect(Reader.read(awaiting, name("BACKUP_FILE", fileName))).toEqual(
      accepted(inFile("BACKUP_FILE", fileName, 0), { _tag: "FileStarted", file: "BACKUP_FILE", fileName })
    )
  })
})

describe("the stream's end", () => {
  it.each<readonly [string, Reader.ReaderState, ReturnType<typeof Reader.end>]>([
    ["is refused before any file", awaiting, refused("the stream ended before any file arrived")],
    ["is refused inside a file, naming it", inFile("BACKUP_FILE", "dump.sql", 5), refused("the stream ended before the checksum of dump.sql", "dump.sql")],
    [
      "is refused inside the custom-metadata file, naming it",
      inFile("CUSTOM_METADATA_FILE", "meta.json", 0),
      refused("the stream ended before the checksum of meta.json", "meta.json")
    ],
    ["is taken after the backup file (no custom-metadata file)", afterBackupFile, Either.void],
    ["is taken after the custom-metadata file", complete, Either.void]
  ])("%s", (_, state, outcome) => {
    expect(Reader.end(state)).toEqual(outcome)
  })
})

describe("a file's checksum", () => {
  const ended = (received: string) =>
    ({ _tag: "FileEnded", file: "BACKUP_FILE", fileName: "dump.sql", checksum: received, size: 12 }) as const
  it.each<readonly [string, string, string, Reader.RestoreProblem | undefined]>([
    ["is taken when it is the one computed", "ED076287532E86365E841E92BFC50D8C", "ED076287532E86365E841E92BFC50D8C", undefined],
    ["is taken in lower case", "ed076287532e86365e841e92bfc50d8c", "ED076287532E86365E841E92BFC50D8C", undefined],
    [
      "is refused when it differs, naming both and the file",
      "00000000000000000000000000000000",
      "ED076287532E86365E841E92BFC50D8C",
      {
        reason: "checksum mismatch: received 00000000000000000000000000000000, computed ED076287532E86365E841E92BFC50D8C",
        fileName: "dump.sql"
      }
    ]
  ])("%s", (_, received, computed, problem) => {
    expect(Reader.checksumProblem(ended(received), computed)).toEqual(problem)
  })
})

/** A file as a reader's user writes it: its name, its content, and the bytes the reader counted. */
interface ReadFile {
  readonly file: FragmentFile
  readonly fileName: string
  readonly content: string
  readonly size: number
}

/**
 * Reads a whole stream as the downloads do: each part through the reader,
 * each file's checksum against the MD5 of the bytes handed on, then the end.
 * Gives the files completed and, if the stream was refused, why.
 */
const readStream = (messages: ReadonlyArray<RestoreMessage>) => {
  const files: Array<ReadFile> = []
  let state = Reader.initial
  let received: Array<Uint8Array> = []
  const outcome = (problem?: Reader.RestoreProblem) => (problem === undefined ? { files } : { files, problem })
  for (const message of messages) {
    const result = Reader.read(state, message)
    if (Either.isLeft(result)) return outcome(result.left)
    state = result.right.state
    const output = result.right.output
    if (output?._tag === "FileStarted") received = []
    if (output?._tag === "Bytes") received.push(output.bytes)
    if (output?._tag === "FileEnded") {
      const all = Buffer.concat(received)
      const problem = Reader.checksumProblem(output, md5Of(all))
      if (problem !== undefined) return outcome(problem)
      files.push({ file: output.file, fileName: output.fileName, content: all.toString(), size: output.size })
    }
  }
  const end = Reader.end(state)
  return outcome(Either.isLeft(end) ? end.left : undefined)
}

const served = (file: FragmentFile, fileName: string, chunks: ReadonlyArray<string>) => [
  name(file, fileName),
  ...chunks.map((chunk) => content(file, chunk)),
  checksum(file, md5Of(bytes(chunks.join(""))))
]

interface StreamRow {
  readonly rule: string
  readonly messages: ReadonlyArray<RestoreMessage>
  readonly gives: ReturnType<typeof readStream>
}

describe("whole restore streams", () => {
  const rows: ReadonlyArray<StreamRow> = [
    {
      rule: "a backup file in chunks",
      messages: served("BACKUP_FILE", "dump.sql", ["Hello", " Worl", "d!"]),
      gives: { files: [{ file: "BACKUP_FILE", fileName: "dump.sql", content: "Hello World!", size: 12 }] }
    },
    {
      rule: "a backup file, then a custom-metadata file",
      messages: [
        ...served("BACKUP_FILE", "schema.sql", ["CREATE TABLE t (id int);"]),
        ...served("CUSTOM_METADATA_FILE", "schema-meta.json", ["{\"pod\":", "\"db-0\"}"])
      ],
      gives: {
        files: [
          { file: "BACKUP_FILE", fileName: "schema.sql", content: "CREATE TABLE t (id int);", size: 24 },
          { file: "CUSTOM_METADATA_FILE", fileName: "schema-meta.json", content: "{\"pod\":\"db-0\"}", size: 14 }
        ]
      }
    },
    {
      rule: "an empty backup file: its name, then its checksum",
      messages: served("BACKUP_FILE", "empty.log", []),
      gives: { files: [{ file: "BACKUP_FILE", fileName: "empty.log", content: "", size: 0 }] }
    },
    {
      rule: "refused at a checksum that differs from the bytes received",
      messages: [
        name("BACKUP_FILE", "dump.sql"),
        content("BACKUP_FILE", "Hello World?"),
        checksum("BACKUP_FILE", md5Of(bytes("Hello World!")))
      ],
      gives: {
        files: [],
        problem: {
          reason: `checksum mismatch: received ${md5Of(bytes("Hello World!"))}, computed ${md5Of(bytes("Hello World?"))}`,
          fileName: "dump.sql"
        }
      }
    },
    {
      rule: "refused at the custom-metadata file's unsafe name, after a complete backup file",
      messages: [...served("BACKUP_FILE", "dump.sql", ["Hello World!"]), name("CUSTOM_METADATA_FILE", "../meta.json")],
      gives: {
        files: [{ file: "BACKUP_FILE", fileName: "dump.sql", content: "Hello World!", size: 12 }],
        problem: {
          reason: "the file name \"../meta.json\" contains a path separator: refused, it could write outside the folder",
          fileName: "../meta.json"
        }
      }
    },
    {
      rule: "refused at an empty chunk in the middle of a file",
      messages: [name("BACKUP_FILE", "dump.sql"), content("BACKUP_FILE", "Hello"), name("BACKUP_FILE", "")],
      gives: { files: [], problem: { reason: "a second file name arrived before the checksum of dump.sql", fileName: "dump.sql" } }
    },
    {
      rule: "refused when it ends in the middle of a file",
      messages: [name("BACKUP_FILE", "dump.sql"), content("BACKUP_FILE", "Hello")],
      gives: { files: [], problem: { reason: "the stream ended before the checksum of dump.sql", fileName: "dump.sql" } }
    },
    {
      rule: "refused when it is empty",
      messages: [],
      gives: { files: [], problem: { reason: "the stream ended before any file arrived", fileName: undefined } }
    },
    {
      rule: "refused at a message of an unknown type",
      messages: [...served("BACKUP_FILE", "dump.sql", ["Hello World!"]), unknown("METADATA")],
      gives: {
        files: [{ file: "BACKUP_FILE", fileName: "dump.sql", content: "Hello World!", size: 12 }],
        problem: { reason: "unexpected message of type METADATA", fileName: undefined }
      }
    }
  ]
  for (const { gives, messages, rule } of rows) {
    it(rule, () => {
      expect(readStream(messages)).toEqual(gives)
    })
  }
})
