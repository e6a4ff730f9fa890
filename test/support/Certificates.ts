// Throwaway certificate authorities and certificates, made at test time with
// @peculiar/x509 over Node's webcrypto: ECDSA P-256 keys (fast to make),
// certificates and keys as PEM, keys in PKCS#8 as the reference expects.
import * as x509 from "@peculiar/x509"
import { Effect } from "effect"
import { webcrypto } from "node:crypto"

type CryptoKey = webcrypto.CryptoKey

// Node's webcrypto is the Web Crypto API that @peculiar/x509 declares with DOM types.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

/** A certificate authority that can sign certificates. */
export interface Authority {
  readonly name: string
  /** Its self-signed certificate, PEM: what a CA file holds. */
  readonly certificate: string
  readonly issuer: x509.X509Certificate
  readonly signingKey: CryptoKey
}

/** A certificate with its private key, both PEM ending with a new line, as files hold them. */
export interface Identity {
  readonly certificate: string
  /** PKCS#8 (`BEGIN PRIVATE KEY`). */
  readonly key: string
}

const newKeys = Effect.promise(() =>
  webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])
)

const validity = () => {
  const now = Date.now()
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + 24 * 3600_000) }
}

const pkcs8 = (key: CryptoKey) =>
  Effect.promise(() => webcrypto.subtle.exportKey("pkcs8", key)).pipe(
    Effect.map((der) => `${x509.PemConverter.encode(der, "PRIVATE KEY")}\n`)
  )

/** A new self-signed certificate authority named `name` (its common name). */
export const authority = (name: string): Effect.Effect<Authority> =>
  Effect.gen(function*() {
    const keys = yield* newKeys
    const subjectKeyIdentifier = yield* Effect.promise(() => x509.SubjectKeyIdentifierExtension.create(keys.publicKey))
    const issuer = yield* Effect.promise(() =>
      x509.X509CertificateGenerator.createSelfSigned({
        name: `CN=${name}`,
        keys,
        signingAlgorithm: algorithm,
        ...validity(),
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          subjectKeyIdentifier
        ]
      })
    )
    return { name, certificate: `${issuer.toString("pem")}\n`, issuer, signingKey: keys.privateKey }
  })

const issue = (
  authority: Authority,
  commonName: string,
  usage: x509.ExtendedKeyUsage,
  names: ReadonlyArray<{ readonly type: "dns" | "ip"; readonly value: string }>
): Effect.Effect<Identity> =>
  Effect.gen(function*() {
    const keys = yield* newKeys
    const authorityKeyIdentifier = yield* Effect.promise(() => x509.AuthorityKeyIdentifierExtension.create(authority.issuer))
    const certificate = yield* Effect.promise(() =>
      x509.X509CertificateGenerator.create({
        subject: `CN=${commonName}`,
        issuer: authority.issuer.subject,
        publicKey: keys.publicKey,
        signingKey: authority.signingKey,
        signingAlgorithm: algorithm,
        ...validity(),
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([usage]),
          ...(names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension([...names])]),
          authorityKeyIdentifier
        ]
      })
    )
    return { certificate: `${certificate.toString("pem")}\n`, key: yield* pkcs8(keys.privateKey) }
  })

/**
 * A server certificate signed by `authority` for `dnsName` (the name an agent
 * expects, e.g. `eric-ctrl-bro`), `localhost` and 127.0.0.1.
 */
export const server = (authority: Authority, dnsName: string): Effect.Effect<Identity> =>
  issue(authority, dnsName, x509.ExtendedKeyUsage.serverAuth, [
    { type: "dns", value: dnsName },
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" }
  ])

/** A client certificate signed by `authority`, for the agent `agentId`. */
export const client = (authority: Authority, agentId: string): Effect.Effect<Identity> =>
  issue(authority, agentId, x509.ExtendedKeyUsage.clientAuth, [])
