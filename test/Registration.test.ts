import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Registration from "../src/core/Registration.js"
import { softwareVersion } from "./support/agentHarness.js"


const problemsOf = (input: unknown) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(Registration.make(input as Registration.RegistrationInput))
    if (Either.isRight(result)) throw new Error("expected the registration information to be refused")
    return result.left.problems
  })

describe("registration information", () => {
  it.effect("fills the defaults a user may leave out", () =>
    Effect.gen(function*() {
      const registration = yield* Registration.make({ agentId: "my-agent", softwareVersion })
      expect(registration.scope).toBe("")
      expect(registration.apiVersion).toBe("4.0")
      expect(registration.backendType).toBe("BRO")
      expect(registration.features).toBeUndefined()
      expect(registration.softwareVersion.commercialVersion).toBe("0.0.0")
      expect(registration.softwareVersion.semanticVersion).toBe("0.0.0")
    }))

  for (const agentId of ["", "   ", ".", "..", "a/b", "a\\b", "~root"]) {
    it.effect(`refuses the agent id ${JSON.stringify(agentId)} before connecting`, () =>
      Effect.gen(function*() {
        const problems = yield* problemsOf({ agentId, softwareVersion })
        expect(problems.map((problem) => problem.field)).toEqual(["agentId"])
      }))
  }

  it.effect("names every bad field at once", () =>
    Effect.gen(function*() {
      const problems = yield* problemsOf({
        agentId: "a/b",
        scope: "alpha;..",
        softwareVersion: { ...softwareVersion, productName: "", type: undefined },
        apiVersion: "5.0",
        features: ["TLS", "TELEPATHY"]
      })
      expect(problems).toEqual([
        { field: "agentId", reason: `must not contain "/"` },
        { field: "scope", reason: `element ".." must not be ".."` },
        { field: "softwareVersion.productName", reason: "must not be empty" },
        { field: "softwareVersion.type", reason: "is missing" },
        { field: "apiVersion", reason: `must be one of "2.0", "3.0", "4.0"` },
        { field: "features.1", reason: "is not a known agent feature" }
      ])
    }))

  it.effect("says what is wrong in its message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Registration.make({ agentId: "", softwareVersion } as Registration.RegistrationInput)
      )
      expect(error._tag).toBe("InvalidRegistrationInformation")
      expect(error.message).toBe("Invalid registration information: agentId must not be empty")
    }))

  it.effect("accepts a scope of several managers", () =>
    Effect.gen(function*() {
      const registration = yield* Registration.make({ agentId: "a", scope: "alpha;beta", softwareVersion })
      expect(registration.scope).toBe("alpha;beta")
    }))
})
