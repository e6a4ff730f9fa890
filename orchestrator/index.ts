/**
 * `bro-agent/orchestrator`: the development orchestrator, a wire-compatible
 * Backup and Restore Orchestrator for tests and for people.
 *
 * `Orchestrator` is the service and its Layer, `OrchestratorHttp` the REST
 * API's Layer, `OrchestratorApi` the REST API's definition (an `HttpApi`, from
 * which a client can be derived), `OrchestratorModel` the records, events and
 * errors both answer with.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Orchestrator from "./Orchestrator.js"
/** @since 0.1.0 */
export * as OrchestratorHttp from "./Http.js"
/** @since 0.1.0 */
export * as OrchestratorModel from "./Model.js"
/** @since 0.1.0 */
export * as OrchestratorApi from "./Api.js"

/**
 * One readable line for an orchestrator event, as `bro-agent orchestrator`
 * logs it.
 *
 * @since 0.1.0
 */
export { formatEvent } from "./Events.js"
