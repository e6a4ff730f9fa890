/**
 * Who is at the other end of a gRPC call: the HTTP/2 connection it came on
 * (the peer's address and port, distinct for each connection) and what TLS
 * said about it. Control and data calls of one agent that share a channel
 * share a connection, so this is what ties a data call to a registered
 * agent's control stream.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"

// grpc-js does not export the type by name.
type AuthContext = ReturnType<grpc.ServerUnaryCall<unknown, unknown>["getAuthContext"]>

/**
 * The peer of one call, taken when the call starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallPeer {
  /**
   * grpc-js's peer text, the client's address and port (`127.0.0.1:51234`):
   * one per open HTTP/2 connection; `unknown` once the connection is gone.
   */
  readonly address: string
  /** The transport's security and, under TLS, the client's certificate (if it sent one). */
  readonly authContext: AuthContext
}

/**
 * The peer of a server call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const peerOf = (call: { getPeer(): string; getAuthContext(): AuthContext }): CallPeer => ({
  address: call.getPeer(),
  authContext: call.getAuthContext()
})
