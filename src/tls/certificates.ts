/**
 * The local certificate authority and the server certificates it issues: ECDSA P-256 keys from
 * node:crypto's WebCrypto, X.509 built with @peculiar/x509. Keys leave here as PKCS#8 PEM,
 * certificates as PEM, which is what node:tls, containerd, docker and skopeo read.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { hostname } from "node:os";
import "reflect-metadata"; // tsyringe (inside @peculiar/x509) needs the Reflect metadata API at load time
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
/** notBefore is backdated so a client whose clock is a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

export interface PemPair {
  cert: string;
  key: string;
}

/** The names every automatic certificate covers, then the configured ones (deduplicated). */
export function serverNames(extra: readonly string[] = []): string[] {
  const names = ["localhost", "127.0.0.1", "::1", hostname(), "registry.local", ...extra];
  return [...new Set(names.map((name) => name.toLowerCase()).filter(Boolean))];
}

/** A random positive 128-bit serial (RFC 5280: at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString("hex");
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function dnValue(text: string): string {
  return text.replace(/[,+="\\<>;#]/g, " ").trim() || "reestr";
}

/** A new self-signed CA that may sign server certificates only (pathLen 0). */
export async function createCa(options: { validityMs: number; now?: Date }): Promise<PemPair> {
  const now = options.now ?? new Date();
  const keys = await newKeyPair();
  const stamp = now.toISOString().slice(0, 10);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=Reestr local CA ${dnValue(hostname())} ${stamp}, O=Reestr`,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + options.validityMs),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

/** A server certificate for `names` (DNS names and IP addresses), signed by the CA. */
export async function issueServerCert(options: {
  ca: PemPair;
  names: readonly string[];
  validityMs: number;
  now?: Date;
}): Promise<PemPair> {
  const now = options.now ?? new Date();
  const caCert = new x509.X509Certificate(options.ca.cert);
  const caKey = await createPrivateKey(options.ca.key).toCryptoKey(EC_KEY, false, ["sign"]);
  const keys = await newKeyPair();
  const sans = options.names.map((name) =>
    isIP(name) ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name },
  );
  const caNotAfter = caCert.notAfter.getTime();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${dnValue(options.names[0] ?? "localhost")}, O=Reestr`,
    issuer: caCert.subject,
    // Never past the CA's own expiry: a chain with an expired issuer fails anyway.
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(Math.min(now.getTime() + options.validityMs, caNotAfter)),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Upper-case hex, as node:tls reports a peer's serial. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses. */
  names: string[];
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
  isCa: boolean;
}

/** The first certificate of a PEM (a chain's leaf). */
export function describeCertificate(pem: string): CertificateInfo {
  const cert = new X509Certificate(pem);
  return {
    subject: cert.subject.replace(/\n/g, ", "),
    issuer: cert.issuer.replace(/\n/g, ", "),
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    names: parseSubjectAltName(cert.subjectAltName),
    fingerprint256: cert.fingerprint256,
    isCa: cert.ca,
  };
}

/** `DNS:a, IP Address:1.2.3.4` → `["a", "1.2.3.4"]`. */
function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return [];
  const names: string[] = [];
  for (const part of text.split(/,\s*/)) {
    const match = /^(DNS|IP Address):(.*)$/.exec(part.trim());
    if (!match) continue;
    const name = match[2]!.replace(/^"|"$/g, "").toLowerCase();
    // node spells IPv6 SANs out in full (0:0:0:0:0:0:0:1); show them as people write them (::1).
    names.push(isIP(name) === 6 ? new URL(`http://[${name}]/`).hostname.slice(1, -1) : name);
  }
  return names;
}

/** True when `cert` was signed by `ca`'s key (and names it as issuer). */
export function issuedBy(cert: string, ca: string): boolean {
  try {
    const leaf = new X509Certificate(cert);
    const issuer = new X509Certificate(ca);
    return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** True when the private key belongs to the (leaf) certificate. */
export function keyMatches(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** Normalises an IPv6 address the way node reports SANs (`::1` → `0:0:0:0:0:0:0:1`) for comparison. */
function canonical(name: string): string {
  if (isIP(name) !== 6) return name.toLowerCase();
  const [head = "", tail = ""] = name.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = name.includes("::") ? 8 - left.length - right.length : 0;
  return [...left, ...Array(fill).fill("0"), ...right].map((part) => part.replace(/^0+(?=.)/, "")).join(":");
}

/** True when every wanted name is among the certificate's SANs. */
export function coversNames(info: CertificateInfo, wanted: readonly string[]): boolean {
  const have = new Set(info.names.map(canonical));
  return wanted.every((name) => have.has(canonical(name)));
}
