/**
 * The orchestrator's side of the fragment benchmark, run as its own process
 * so that its work is not counted in the agent's memory: two minimal
 * grpc-js servers for `DataInterface` on 127.0.0.1.
 *
 * - `backup` reads every message and drops it (no decoding, no check), then
 *   answers `Empty` with OK once the client half-closes. It reads with
 *   grpc-java's (BRO's) 1 MiB HTTP/2 window, for the stream and for the
 *   connection: grpc-js's server has no option for it and keeps HTTP/2's
 *   64 KiB, which would make every upload wait for round trips that BRO does
 *   not impose, so Node's `http2.createServer` is given the window here.
 * - The second server, the throttled receiver, does the same but reads at
 *   most 100 MiB a second (it pauses the call when ahead): a slow
 *   orchestrator, against which an upload must wait instead of buffering.
 * - `restore` streams the file given on the command line as the protocol
 *   lays it out (file name, 512 KiB content chunks, upper-case MD5),
 *   whatever fragment is asked for, with at most two messages queued in grpc-js
 *   (grpc-java's onReady keeps BRO's queue as short): with grpc-js's 16 the
 *   server held 8 MiB for a slower client and spent up to 0.9 of a core
 *   collecting it, on the cores the client shares. Content messages are encoded by hand: each
 *   chunk is read from the file straight behind its protobuf header, so the
 *   server copies nothing and the download baselines measure the client, not
 *   this server's encoder (the bytes are those protobufjs writes; checked at
 *   start-up).
 *
 * The file's MD5 is computed once at start-up, before the servers listen.
 * Then it prints `BENCH-READY {"port":…,"throttledPort":…,"pid":…,"checksum":…}`
 * and serves until its stdin closes (the driver ended) or it gets SIGTERM.
 *
 * Usage: `node orchestrator.js <file>`
 */
import http2 from "node:http2"
import * as grpc from "@grpc/grpc-js"
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { open } from "node:fs/promises"
import { basename } from "node:path"
import { performance } from "node:perf_hooks"
import * as Wire from "../../src/internal/Wire.js"
import { printMarkedLine } from "../support/lines.js"
import { chunkSize, flowControlWindow, readyMarker, throttledRate } from "./common.js"

// Every HTTP/2 server made after this (grpc-js's) receives with a 1 MiB window.
const createServer = http2.createServer
const withWindow = (options: http2.ServerOptions = {}): http2.ServerOptions => ({
  ...options,
  settings: { ...options.settings, initialWindowSize: flowControlWindow }
})
http2.createServer = ((options: http2.ServerOptions, listener?: () => void) => {
  const server = createServer(withWindow(options), listener)
  server.on("session", (session) => {
    const widen = () => session.setLocalWindowSize(flowControlWindow)
    if (session.connecting) session.once("connect", widen)
    else widen()
  })
  return server
}) as typeof http2.createServer

const file = process.argv[2]
if (file === undefined) throw new Error("usage: orchestrator.js <file>")

const md5OfFile = (path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const hash = createHash("md5")
    createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })
      .on("data", (bytes) => hash.update(bytes))
      .on("end", () => resolve(hash.digest("hex").toUpperCase()))
      .on("error", reject)
  })

const method = (name: string): grpc.MethodDefinition<object, object> => {
  const found = Wire.protos().dataService[name]
  if (found === undefined) throw new Error(`DataInterface has no method ${name}`)
  return found
}

// The upload's messages stay bytes: decoding them would only cost time. The
// restore's messages are written already encoded (see `contentMessage`).
const dataService: grpc.ServiceDefinition = {
  backup: { ...method("backup"), requestDeserialize: (bytes: Buffer) => bytes },
  restore: { ...method("restore"), responseSerialize: (bytes: Buffer) => bytes }
}

const encode = (message: Wire.RestoreData): Buffer => Wire.protos().codecs.RestoreData.encode(message)

const varintLength = (value: number) => (value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4)

const writeVarint = (buffer: Buffer, offset: number, value: number): number => {
  let rest = value
  let at = offset
  while (rest >= 0x80) {
    buffer[at++] = (rest & 0x7f) | 0x80
    rest >>>= 7
  }
  buffer[at++] = rest
  return at
}

/**
 * A buffer for one content message of `size` bytes: `RestoreData {
 * dataMessageType: BACKUP_FILE (field 1), backupFileChunk (field 3) {
 * content (field 2) } }`, with the content to be read in at `offset`.
 */
const contentMessage = (size: number): { readonly buffer: Buffer; readonly offset: number } => {
  const chunkLength = 1 + varintLength(size) + size
  const headerLength = 2 + 1 + varintLength(chunkLength) + 1 + varintLength(size)
  const buffer = Buffer.allocUnsafe(headerLength + size)
  buffer[0] = 0x08 // field 1, varint
  buffer[1] = 2 // BACKUP_FILE
  buffer[2] = 0x1a // field 3, length-delimited
  let at = writeVarint(buffer, 3, chunkLength)
  buffer[at++] = 0x12 // field 2, length-delimited
  at = writeVarint(buffer, at, size)
  return { buffer, offset: at }
}

/** Fails at start-up if the hand encoding differs from protobufjs's. */
const checkContentEncoding = () => {
  const content = Buffer.from("content")
  const { buffer, offset } = contentMessage(content.length)
  content.copy(buffer, offset)
  const expected = encode({ dataMessageType: "BACKUP_FILE", backupFileChunk: { content } })
  if (!buffer.equals(expected)) throw new Error("the hand-encoded content message differs from protobufjs's")
}

const maxQueued = 2

const serveRestore = async (call: grpc.ServerWritableStream<unknown, Buffer>, checksum: string) => {
  // At most two messages queued in grpc-js, as grpc-java's onReady keeps
  // BRO's: a server that queues 16 (grpc-js's default) holds 8 MiB for a
  // slower client and collects it, on the cores the client shares.
  let inFlight = 0
  let wake: (() => void) | undefined
  let cancelled = false
  call.on("cancelled", () => {
    cancelled = true
    wake?.()
  })
  call.on("error", () => {})
  const written = () => {
    inFlight--
    const pending = wake
    wake = undefined
    pending?.()
  }
  const send = async (message: Buffer) => {
    // Two in flight stay far below grpc-js's 16-message buffer: 'drain' never comes into it.
    inFlight++
    call.write(message, written)
    if (inFlight >= maxQueued && !cancelled) await new Promise<void>((resolve) => (wake = resolve))
  }
  const handle = await open(file, "r")
  try {
    const { size } = await handle.stat()
    await send(encode({ dataMessageType: "BACKUP_FILE", backupFileChunk: { fileName: basename(file) } }))
    for (let position = 0; position < size && !cancelled;) {
      // A new buffer per chunk: grpc-js may keep a written message until it is sent.
      const length = Math.min(chunkSize, size - position)
      const { buffer, offset } = contentMessage(length)
      const { bytesRead } = await handle.read(buffer, offset, length, position)
      if (bytesRead !== length) throw new Error(`short read at ${position}: ${bytesRead} of ${length} bytes`)
      position += length
      await send(buffer)
    }
    if (cancelled) return
    await send(encode({ dataMessageType: "BACKUP_FILE", backupFileChunk: { checksum } }))
    call.end()
  } finally {
    await handle.close()
  }
}

/** Drops an upload's messages; with a rate, reads no faster than it (pausing the call when ahead). */
const receiveBackup = (rate: number | undefined) =>
(call: grpc.ServerReadableStream<Buffer, object>, respond: grpc.sendUnaryData<object>) => {
  const started = performance.now()
  let received = 0
  call.on("data", (message: Buffer) => {
    received += message.length
    if (rate === undefined) return
    const ahead = received / rate * 1000 - (performance.now() - started)
    if (ahead > 1) {
      call.pause()
      setTimeout(() => call.resume(), ahead)
    }
  })
  call.on("end", () => respond(null, {}))
  call.on("error", () => {})
}

const listen = async (rate: number | undefined, checksum: string): Promise<grpc.Server> => {
  const server = new grpc.Server()
  server.addService(dataService, {
    backup: receiveBackup(rate),
    restore: (call: grpc.ServerWritableStream<unknown, Buffer>) => {
      serveRestore(call, checksum).catch((error: unknown) => {
        call.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    }
  })
  return server
}

const bind = (server: grpc.Server) =>
  new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error))
  )

const main = async () => {
  checkContentEncoding()
  const checksum = await md5OfFile(file)
  const server = await listen(undefined, checksum)
  const throttled = await listen(throttledRate, checksum)
  const port = await bind(server)
  const throttledPort = await bind(throttled)
  const stop = () => {
    server.forceShutdown()
    throttled.forceShutdown()
    process.exit(0)
  }
  process.on("SIGTERM", stop)
  process.stdin.on("end", stop)
  process.stdin.resume()
  printMarkedLine(readyMarker, { port, throttledPort, pid: process.pid, checksum })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
