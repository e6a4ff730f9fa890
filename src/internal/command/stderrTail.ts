/**
 * The end of a process's stderr, in bounded memory: a tool that logs
 * gigabytes of warnings still fails with its last lines only.
 *
 * @since 0.1.0
 */

/**
 * Keeps the last `limit` bytes written to it.
 *
 * @since 0.1.0
 */
export class StderrTail {
  private chunks: Array<Uint8Array> = []
  private size = 0

  constructor(private readonly limit: number) {}

  add(chunk: Uint8Array): void {
    if (this.limit === 0 || chunk.length === 0) return
    this.chunks.push(chunk)
    this.size += chunk.length
    // Drop whole chunks no longer needed; the first one kept may be cut in `text`.
    while (this.chunks.length > 1 && this.size - (this.chunks[0]?.length ?? 0) >= this.limit) {
      this.size -= this.chunks.shift()?.length ?? 0
    }
  }

  /** The kept bytes as text, trimmed: a character cut at the start is dropped, invalid bytes replaced. */
  text(): string {
    const all = Buffer.concat(this.chunks)
    let start = Math.max(0, all.length - this.limit)
    // Skip the continuation bytes of a character whose first byte was cut off.
    while (start < all.length && start > 0 && ((all[start] ?? 0) & 0xc0) === 0x80) start++
    return new TextDecoder().decode(all.subarray(start)).trim()
  }
}
