/**
 * `bro-agent/testing`: a test kit that puts an agent through every sequence
 * a Backup and Restore Orchestrator plays, on the in-memory transport. See
 * the `Testing` module.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Testing from "./testing/Testing.js"
