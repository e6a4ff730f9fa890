import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import protobuf from "protobufjs"
import * as Wire from "../src/internal/Wire.js"

interface Vector {
  readonly name: string
  readonly message: string
  readonly json: Record<string, unknown>
  readonly hex: string
}

interface Contract {
  readonly enums: Record<string, Record<string, number>>
  readonly messages: Record<string, Record<string, { readonly id: number; readonly type: string }>>
}

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8"))
const vectors = fixture("vectors.json") as ReadonlyArray<Vector>
// Written from the tables of shared/protocol/wire.md, the wire contract.
const contract = fixture("wire-contract.json") as Contract

// protobufjs reads the same files independently of proto-loader, to look at
// their structure (names, numbers, types) rather than at their encoding.
const root = new protobuf.Root()
root.resolvePath = (_origin, target) =>
  target.startsWith("google/") ? target : `${Wire.protos().protoDirectory}/${target}`
root.loadSync(["INT_BR_ORCH_CTRL.proto", "INT_BR_ORCH_DATA.proto"], { keepCase: true })
root.resolveAll()

const ours = (name: string) => !name.startsWith("google.")
const allTypes = (namespace: protobuf.NamespaceBase): Array<protobuf.Type | protobuf.Enum> =>
  namespace.nestedArray.flatMap((nested) =>
    nested instanceof protobuf.Type || nested instanceof protobuf.Enum
      ? [nested]
      : nested instanceof protobuf.Namespace
      ? allTypes(nested)
      : []
  )
const fullName = (type: protobuf.ReflectionObject) => type.fullName.replace(/^\./, "")

const scalar = new Set(["string", "bool", "bytes", "uint64"])

const expectedTypeName = (message: string, written: string): string => {
  if (scalar.has(written)) return written
  const packagePrefix = message.includes(".") ? message.slice(0, message.lastIndexOf(".") + 1) : ""
  const inPackage = `${packagePrefix}${written}`
  return inPackage in contract.messages || inPackage in contract.enums ? inPackage : written
}

describe("proto/ against the wire contract", () => {
  it("defines exactly the messages and enums of the contract", () => {
    const defined = allTypes(root).map(fullName).filter(ours).sort()
    expect(defined).toEqual([...Object.keys(contract.messages), ...Object.keys(contract.enums)].sort())
  })

  for (const [name, values] of Object.entries(contract.enums)) {
    it(`gives enum ${name} its values`, () => {
      expect(root.lookupEnum(name).values).toEqual(values)
    })
  }

  for (const [name, fields] of Object.entries(contract.messages)) {
    it(`gives message ${name} its fields, numbers and types`, () => {
      const type = root.lookupType(name)
      const actual = Object.fromEntries(
        type.fieldsArray.map((field) => {
          const typeName = field.resolvedType === null ? field.type : fullName(field.resolvedType)
          const written = field instanceof protobuf.MapField
            ? `map<${field.keyType}, ${field.type}>`
            : field.repeated
            ? `repeated ${typeName}`
            : typeName
          return [field.name, { id: field.id, type: written }]
        })
      )
      const expected = Object.fromEntries(
        Object.entries(fields).map(([field, { id, type: written }]) => {
          const repeated = written.startsWith("repeated ")
          const base = repeated ? written.slice("repeated ".length) : written
          const typeName = base.startsWith("map<") ? base : expectedTypeName(name, base)
          return [field, { id, type: repeated ? `repeated ${typeName}` : typeName }]
        })
      )
      expect(actual).toEqual(expected)
    })
  }

  it("serves the three methods on their wire paths", () => {
    const methods = [Wire.protos().controlService, Wire.protos().dataService].flatMap((service) =>
      Object.values(service).map((method) => ({
        path: method.path,
        requestStream: method.requestStream,
        responseStream: method.responseStream
      }))
    )
    expect(methods).toEqual([
      {
        path: "/com.ericsson.adp.mgmt.control.ControlInterface/establishControlChannel",
        requestStream: true,
        responseStream: true
      },
      { path: "/com.ericsson.adp.mgmt.data.DataInterface/backup", requestStream: true, responseStream: false },
      { path: "/com.ericsson.adp.mgmt.data.DataInterface/restore", requestStream: false, responseStream: true }
    ])
  })
})

// The object proto-loader gives for `json` once decoded: every field present,
// proto3 defaults where `json` is silent, absent sub-messages as null.
const decodedShape = (type: protobuf.Type, json: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(
    type.fieldsArray.map((field) => {
      const value = json[field.name]
      const resolved = field.resolvedType
      if (field instanceof protobuf.MapField) return [field.name, value ?? {}]
      if (field.repeated) {
        const items = (value as Array<unknown> | undefined) ?? []
        return [
          field.name,
          resolved instanceof protobuf.Type
            ? items.map((item) => decodedShape(resolved, item as Record<string, unknown>))
            : items
        ]
      }
      if (resolved instanceof protobuf.Type) {
        return [field.name, value === undefined ? null : decodedShape(resolved, value as Record<string, unknown>)]
      }
      if (value !== undefined) {
        return [field.name, field.type === "bytes" ? Buffer.from(value as string, "base64") : value]
      }
      if (resolved instanceof protobuf.Enum) {
        const zero = Object.entries(resolved.values).find(([, number]) => number === 0)
        return [field.name, zero?.[0]]
      }
      const defaults: Record<string, unknown> = { string: "", bool: false, bytes: Buffer.alloc(0), uint64: "0" }
      return [field.name, defaults[field.type]]
    })
  )

// `json` as an encoder takes it: bytes as Buffers rather than base64 text.
const encoderInput = (type: protobuf.Type, json: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(json).map(([name, value]) => {
      const field = type.fields[name]
      if (field === undefined) throw new Error(`${type.name} has no field ${name}`)
      const resolved = field.resolvedType
      if (field.type === "bytes") return [name, Buffer.from(value as string, "base64")]
      if (resolved instanceof protobuf.Type && !(field instanceof protobuf.MapField)) {
        return [
          name,
          field.repeated
            ? (value as Array<Record<string, unknown>>).map((item) => encoderInput(resolved, item))
            : encoderInput(resolved, value as Record<string, unknown>)
        ]
      }
      return [name, value]
    })
  )

const codecOf = (message: string): Wire.Codec<object, object> => {
  const short = message.slice(message.lastIndexOf(".") + 1) as keyof Wire.Protos["codecs"]
  const codec = Wire.protos().codecs[short] as Wire.Codec<object, object> | undefined
  if (codec === undefined) throw new Error(`no codec for ${message}`)
  return codec
}

// Through the domain's messages and back, as the transports do.
const viaDomain: Record<string, (decoded: never) => object> = {
  AgentControl: (decoded: Wire.AgentControl__Output) => Wire.agentToWire(Wire.agentFromWire(decoded)),
  OrchestratorControl: (decoded: Wire.OrchestratorControl__Output) =>
    Wire.orchestratorToWire(Wire.orchestratorFromWire(decoded)),
  BackupData: (decoded: Wire.BackupData__Output) => Wire.backupToWire(Wire.backupFromWire(decoded)),
  RestoreData: (decoded: Wire.RestoreData__Output) => Wire.restoreToWire(Wire.restoreFromWire(decoded)),
  Metadata: (decoded: Wire.Metadata__Output) => Wire.requestToWire(Wire.requestFromWire(decoded))
}

describe("the reference encoder's vectors", () => {
  it("are all covered", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(19)
  })

  for (const vector of vectors) {
    const type = root.lookupType(vector.message)
    const codec = codecOf(vector.message)

    it(`${vector.name}: decodes to exactly its fields`, () => {
      const decoded = codec.decode(Buffer.from(vector.hex, "hex"))
      expect(decoded).toEqual(decodedShape(type, vector.json))
    })

    it(`${vector.name}: encodes its fields to exactly its bytes`, () => {
      expect(codec.encode(encoderInput(type, vector.json)).toString("hex")).toBe(vector.hex)
    })

    it(`${vector.name}: survives the trip through the domain's messages`, () => {
      const short = vector.message.slice(vector.message.lastIndexOf(".") + 1)
      const convert = viaDomain[short]
      if (convert === undefined) throw new Error(`no domain conversion for ${short}`)
      const decoded = codec.decode(Buffer.from(vector.hex, "hex"))
      expect(codec.encode(convert(decoded as never)).toString("hex")).toBe(vector.hex)
    })
  }
})
