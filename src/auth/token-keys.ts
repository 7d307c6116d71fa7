/**
 * The token signing key: a PEM private key given by the operator, or an ECDSA P-256 key
 * generated on first start and kept in the data directory (`auth/token-signing-key.pem`, mode
 * 0600, directory 0700). Generation is race-free: the key is written to a temp file and linked
 * into place, so two servers starting on one data directory end up with the same key.
 *
 * The key id (`kid`) is libtrust's fingerprint of the public key (the first 240 bits of the
 * SHA-256 of its DER SubjectPublicKeyInfo, base32, in 4-character groups joined by colons): the
 * form CNCF Distribution 2.x looks up in the certificates of its `rootcertbundle`, so a
 * Distribution registry can trust Reestr's tokens too.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { chmod, link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The JWS algorithm the key signs with. */
  alg: string;
  kid: string;
  /** Where the key lives on disk. */
  path: string;
  /** True when this start generated it. */
  generated: boolean;
}

export const DEFAULT_KEY_FILE = join("auth", "token-signing-key.pem");

/** The JWS algorithm for an asymmetric key; throws for keys tokens cannot be signed with. */
export function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return "ES256";
      if (curve === "secp384r1") return "ES384";
      if (curve === "secp521r1") return "ES512";
      throw new Error(`unsupported EC curve ${curve}: use P-256, P-384 or P-521`);
    }
    case "rsa": {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw new Error(`RSA key of ${bits} bits is too short: at least 2048`);
      return "RS256";
    }
    case "ed25519":
      return "EdDSA";
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}: use EC (P-256), RSA or Ed25519`);
  }
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** libtrust's key id of a public key (see the module comment). */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  const hash = createHash("sha256").update(der).digest().subarray(0, 30);
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return text.match(/.{4}/g)!.join(":");
}

function fromPem(pem: string, path: string, generated: boolean): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`token signing key ${path} is not a PEM private key: ${(error as Error).message}`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    alg: algorithmFor(privateKey),
    kid: libtrustKeyId(publicKey),
    path,
    generated,
  };
}

export interface LoadKeyOptions {
  /** The operator's key; without it, `<dataDir>/auth/token-signing-key.pem` (generated if missing). */
  path?: string;
  dataDir: string;
  /** Told when a generated key file was readable by others and was tightened to 0600. */
  onLoosePermissions?: (path: string) => void;
}

export async function loadSigningKey(options: LoadKeyOptions): Promise<SigningKey> {
  if (options.path) {
    let pem: string;
    try {
      pem = await readFile(options.path, "utf8");
    } catch (error) {
      throw new Error(`cannot read token signing key ${options.path}: ${(error as Error).message}`);
    }
    return fromPem(pem, options.path, false);
  }
  const path = join(options.dataDir, DEFAULT_KEY_FILE);
  const existing = await readKeyFile(path, options.onLoosePermissions);
  if (existing !== undefined) return fromPem(existing, path, false);

  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(pem, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // Another process generated one first: use that one.
    await unlink(temp).catch(() => {});
    return fromPem((await readKeyFile(path, options.onLoosePermissions))!, path, false);
  }
  await unlink(temp).catch(() => {});
  return fromPem(pem, path, true);
}

async function readKeyFile(path: string, onLoose?: (path: string) => void): Promise<string | undefined> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (!info) return undefined;
  if ((info.mode & 0o077) !== 0) {
    await chmod(path, 0o600);
    onLoose?.(path);
  }
  return readFile(path, "utf8");
}
