import { createHash, type Hash } from "node:crypto";
import { RegistryError } from "./errors.ts";

/** Algorithms this registry verifies. The spec registers sha256 and sha512. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

/** A validated digest string such as `sha256:<64 hex>`. */
export type Digest = string & { readonly __digest: unique symbol };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: Digest;
}

// The spec grammar: algorithm-component ([+._-] algorithm-component)* ":" encoded
export const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Parses and validates a digest; throws DIGEST_INVALID for anything that is not a supported digest. */
export function parseDigest(value: string): ParsedDigest {
  if (!DIGEST_GRAMMAR.test(value)) {
    throw new RegistryError("DIGEST_INVALID", `invalid digest "${truncate(value)}"`);
  }
  const colon = value.indexOf(":");
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!(algorithm in DIGEST_ALGORITHMS)) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm "${truncate(algorithm)}"`);
  }
  const expectedLength = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
  if (hex.length !== expectedLength || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError("DIGEST_INVALID", `invalid ${algorithm} digest "${truncate(value)}"`);
  }
  return { algorithm: algorithm as DigestAlgorithm, hex, digest: value as Digest };
}

/** A digest algorithm named on its own (`?digest-algorithm=`); DIGEST_INVALID when unsupported. */
export function parseDigestAlgorithm(value: string): DigestAlgorithm {
  if (!Object.hasOwn(DIGEST_ALGORITHMS, value)) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm "${truncate(value)}"`);
  }
  return value as DigestAlgorithm;
}

export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function createDigester(algorithm: DigestAlgorithm = "sha256"): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = "sha256"): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}` as Digest;
}

export function digestFromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  return `${algorithm}:${hash.digest("hex")}` as Digest;
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
