/**
 * bro-agent: write the agent that lets a Node.js service take part in the
 * backups and restores of a Backup and Restore Orchestrator (BRO).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Agent from "./Agent.js"
/** @since 0.1.0 */
export * as AgentMetrics from "./AgentMetrics.js"
/** @since 0.1.0 */
export * as AgentBehavior from "./behavior/AgentBehavior.js"
/** @since 0.1.0 */
export * as Commands from "./behavior/Commands.js"
/** @since 0.1.0 */
export * as Fragments from "./behavior/Fragments.js"

/** @since 0.1.0 */
export * as Action from "./core/Action.js"
/** @since 0.1.0 */
export * as Fragment from "./core/Fragment.js"
/** @since 0.1.0 */
export * as Message from "./core/Message.js"
/** @since 0.1.0 */
export * as Registration from "./core/Registration.js"
/** @since 0.1.0 */
export * as SoftwareVersion from "./core/SoftwareVersion.js"
/** @since 0.1.0 */
export * as Status from "./core/Status.js"

/** @since 0.1.0 */
export * as Health from "./Health.js"
/** @since 0.1.0 */
export * as GrpcTransport from "./transport/GrpcTransport.js"
/** @since 0.1.0 */
export * as InMemoryTransport from "./transport/InMemoryTransport.js"
/** @since 0.1.0 */
export * as OrchestratorTransport from "./transport/OrchestratorTransport.js"
