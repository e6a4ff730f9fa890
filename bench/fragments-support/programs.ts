/**
 * The agent's side of the fragment benchmark: runs one measured program in
 * its own process, so that its peak RSS (`process.resourceUsage().maxRSS`)
 * is its own, and prints `BENCH-RESULT {…}` (see `common.ts`).
 *
 * This module holds the baselines, which load nothing of the library: MD5
 * alone (node:crypto only), the disk alone (node:fs only), and a bare grpc-js upload and download of the
 * same messages without hashing (grpc-js and proto-loader only, on the
 * package's `proto/`), the download with the agent's 1 MiB window. The
 * agent's programs are in `agent.ts`, loaded only when one of them runs.
 * Every program checks that exactly the fragment's bytes passed. The clock
 * runs around the transfer only: module loading and the client's creation
 * are not measured (the connection is, for all alike).
 *
 * Usage: `node programs.js '<ProgramOptions as JSON>'`, with an orchestrator
 * from `orchestrator.ts` listening on the port.
 */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { createHash } from "node:crypto"
import { closeSync, existsSync, openSync, writeSync } from "node:fs"
import { open } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ProgramOptions, ProgramResult } from "./common.js"
import { printMarkedLine } from "../support/lines.js"
import { chunkSize, flowControlWindow, isProgramName, measure, resultMarker } from "./common.js"

const agentId = "bench-agent"
const backupName = "bench-backup"
const fragmentId = "bench-agent-fragment"

const parseOptions = (text: string | undefined): ProgramOptions => {
  if (text === undefined) throw new Error("usage: programs.js '<options as JSON>'")
  const options = JSON.parse(text) as ProgramOptions
  if (!isProgramName(options.program)) throw new Error(`unknown program ${String(options.program)}`)
  return options
}

// ---------------------------------------------------------------------------
// MD5 alone
// ---------------------------------------------------------------------------

/** Reads the file in chunks into one reused buffer and hashes it. */
const md5Alone = async (options: ProgramOptions): Promise<number> => {
  const handle = await open(options.file, "r")
  try {
    const hash = createHash("md5")
    const buffer = Buffer.allocUnsafe(chunkSize)
    let total = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null)
      if (bytesRead === 0) break
      hash.update(bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead))
      total += bytesRead
    }
    hash.digest("hex")
    return total
  } finally {
    await handle.close()
  }
}

// ---------------------------------------------------------------------------
// The disk alone
// ---------------------------------------------------------------------------

/**
 * Writes the fragment's size into a new file of the folder, 512 KiB at a
 * time from one buffer (the file's first chunk), with the synchronous calls
 * the agent's writer thread makes, and closes it.
 */
const diskAlone = async (options: ProgramOptions): Promise<ProgramResult> => {
  const source = await open(options.file, "r")
  const buffer = Buffer.alloc(chunkSize)
  try {
    await source.read(buffer, 0, chunkSize, 0)
  } finally {
    await source.close()
  }
  return measure(options, async () => {
    const descriptor = openSync(join(options.folder, "disk.bin"), "wx")
    let total = 0
    try {
      while (total < options.size) {
        const length = Math.min(chunkSize, options.size - total)
        for (let offset = 0; offset < length;) offset += writeSync(descriptor, buffer, offset, length - offset)
        total += length
      }
    } finally {
      closeSync(descriptor)
    }
    return total
  })
}

// ---------------------------------------------------------------------------
// Bare grpc-js
// ---------------------------------------------------------------------------

/** The package's `proto/` folder, found upwards from this module (sources or build). */
const protoDirectory = (): string => {
  for (let folder = dirname(fileURLToPath(import.meta.url));; folder = dirname(folder)) {
    if (existsSync(join(folder, "proto", "INT_BR_ORCH_DATA.proto"))) return join(folder, "proto")
    if (dirname(folder) === folder) throw new Error("proto/ not found")
  }
}

interface DataMethods {
  readonly backup: grpc.MethodDefinition<object, object>
  readonly restore: grpc.MethodDefinition<object, object>
}

/** `DataInterface` loaded with the library's loader options, with nothing of the library. */
const loadDataMethods = (): DataMethods => {
  const definition = protoLoader.loadSync("INT_BR_ORCH_DATA.proto", {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    includeDirs: [protoDirectory()]
  })
  const service = definition["com.ericsson.adp.mgmt.data.DataInterface"] as grpc.ServiceDefinition | undefined
  const backup = service?.["backup"]
  const restore = service?.["restore"]
  if (backup === undefined || restore === undefined) throw new Error("DataInterface not found in proto/")
  return { backup, restore }
}

interface BareChunk {
  readonly fileName?: string
  readonly content?: Buffer
  readonly checksum?: string
}

interface BareMessage {
  readonly dataMessageType: "METADATA" | "BACKUP_FILE"
  readonly metadata?: object
  readonly backupFileChunk?: BareChunk
}

const wireFragment = (size: number) => ({ fragmentId, version: "1.0", sizeInBytes: String(size), customInformation: {} })

/**
 * A raw client stream on `backup`: METADATA, the file name, the file's
 * 512 KiB chunks (a new buffer each, as grpc-js may hold a message until it
 * is sent), a fixed checksum; waits for 'drain' whenever `write` says so.
 */
const bareUpload = async (options: ProgramOptions, client: grpc.Client, methods: DataMethods): Promise<number> => {
  let total = 0
  let settled = false
  let call: grpc.ClientWritableStream<BareMessage> | undefined
  const answer = new Promise<void>((resolve, reject) => {
    call = client.makeClientStreamRequest<BareMessage, object>(
      methods.backup.path,
      methods.backup.requestSerialize,
      methods.backup.responseDeserialize,
      (error) => {
        settled = true
        if (error === null) resolve()
        else reject(error)
      }
    )
  })
  if (call === undefined) throw new Error("the backup call did not start")
  const stream = call
  stream.on("error", () => {})
  const send = async (message: BareMessage) => {
    if (stream.write(message) || settled) return
    await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), answer])
  }
  const handle = await open(options.file, "r")
  try {
    await send({ dataMessageType: "METADATA", metadata: { agentId, backupName, fragment: wireFragment(options.size) } })
    await send({ dataMessageType: "BACKUP_FILE", backupFileChunk: { fileName: basename(options.file) } })
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkSize)
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null)
      if (bytesRead === 0) break
      total += bytesRead
      await send({ dataMessageType: "BACKUP_FILE", backupFileChunk: { content: buffer.subarray(0, bytesRead) } })
    }
    await send({ dataMessageType: "BACKUP_FILE", backupFileChunk: { checksum: "0123456789ABCDEF0123456789ABCDEF" } })
  } finally {
    await handle.close()
  }
  stream.end()
  await answer
  return total
}

interface BareRestoreData {
  readonly backupFileChunk: { readonly content: Buffer } | null
}

const restoreCall = (client: grpc.Client, methods: DataMethods, size: number): grpc.ClientReadableStream<object> =>
  client.makeServerStreamRequest(
    methods.restore.path,
    methods.restore.requestSerialize,
    methods.restore.responseDeserialize,
    { agentId, backupName, fragment: wireFragment(size) }
  )

/** A raw server stream on `restore`: every message decoded, counted and dropped. */
const bareDownload = (options: ProgramOptions, client: grpc.Client, methods: DataMethods): Promise<number> =>
  new Promise((resolve, reject) => {
    let total = 0
    let ended = false
    let status: grpc.StatusObject | undefined
    const settle = () => {
      if (status === undefined) return
      if (status.code !== grpc.status.OK) reject(new Error(`restore ended with ${status.code}: ${status.details}`))
      else if (ended) resolve(total)
    }
    const call = restoreCall(client, methods, options.size)
    call.on("data", (message: BareRestoreData) => {
      total += message.backupFileChunk?.content.length ?? 0
    })
    call.on("end", () => {
      ended = true
      settle()
    })
    call.on("status", (received: grpc.StatusObject) => {
      status = received
      settle()
    })
    call.on("error", () => {})
  })

// ---------------------------------------------------------------------------

const run = async (options: ProgramOptions): Promise<ProgramResult> => {
  switch (options.program) {
    case "md5":
      return measure(options, () => md5Alone(options))
    case "disk":
      return diskAlone(options)
    case "bare-upload":
    case "bare-download": {
      const methods = loadDataMethods()
      // The download reads with the agent's window (GrpcTransport.defaultFlowControlWindow),
      // not grpc-js's 64 KiB, which would flatter the agent.
      const client = new grpc.Client(`127.0.0.1:${options.port}`, grpc.credentials.createInsecure(), {
        "grpc-node.flow_control_window": flowControlWindow
      })
      const transfer = options.program === "bare-upload" ? bareUpload : bareDownload
      return measure(options, () => transfer(options, client, methods))
    }
    default: {
      const agent = await import("./agent.js")
      return agent.run(options)
    }
  }
}

run(parseOptions(process.argv[2])).then(
  (result) => {
    printMarkedLine(resultMarker, result)
    // Open clients and handles must not keep a finished program alive.
    process.exit(0)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
