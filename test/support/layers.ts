// How a suite gets its Layers. `layer(L)` of @effect/vitest builds L once
// for the whole suite, with one TestClock; the two helpers here cover what
// it does not: a suite on the real clock, and a Layer whose state must be
// fresh for every test.
import type { Vitest } from "@effect/vitest"
import { describe, it, layer } from "@effect/vitest"
import type { Layer, Scope, TestServices } from "effect"
import { Effect } from "effect"

/**
 * `layer(L)` on the real clock, as `it.live` and `it.scopedLive` run: for
 * suites against real gRPC servers, sockets and files, whose deadlines and
 * waits pass in real time. L is built once for the suite, so it must hold
 * nothing a test could leave behind (the file system, an HTTP client).
 */
export const layerLive = <R, E>(suiteLayer: Layer.Layer<R, E>) => layer(suiteLayer, { excludeTestServices: true })

/** The testers of a suite whose Layer is built afresh for each test. */
export interface PerTestMethods<R> {
  readonly effect: Vitest.Test<R | TestServices.TestServices>
  readonly scoped: Vitest.Test<R | TestServices.TestServices | Scope.Scope>
}

/**
 * Like `layer(L)`, but L is built for each test, next to the fresh TestClock
 * of `it.effect` and `it.scoped`. For a Layer with state: an in-memory
 * orchestrator keeps the control streams no test took and counts every one
 * opened, and a shared TestClock would keep the sleeps of fibers a previous
 * test interrupted.
 */
export const layerPerTest = <R, E>(testLayer: Layer.Layer<R, E>) =>
(name: string, suite: (it: PerTestMethods<R>) => void): void => {
  describe(name, () =>
    suite({
      effect: (name, self, timeout) =>
        it.effect(name, (context) => Effect.provide(self(context), testLayer), timeout),
      scoped: (name, self, timeout) =>
        it.scoped(
          name,
          (context) => Effect.provide(self(context), testLayer),
          timeout
        )
    }))
}
