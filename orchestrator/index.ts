/**
 * `bro-agent/orchestrator`: the development orchestrator, a wire-compatible
 * Backup and Restore Orchestrator for tests and for people.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Orchestrator from "./Orchestrator.js"
/** @since 0.1.0 */
export * as OrchestratorHttp from "./Http.js"
/** @since 0.1.0 */
export * as OrchestratorModel from "./Model.js"
