/**
 * Where the automatic certificates live (<dataDir>/tls/) and how they are written: to a temp file
 * in the same directory, fsynced, renamed over the old one, directory fsynced. A crash leaves
 * either the old file or the new one, never half a key; keys are created 0600 from the start.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsyncPath, makeDirectorySync } from "../util/fs.ts";
import type { PemPair } from "./certificates.ts";

export interface TlsPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function tlsPaths(dataDir: string): TlsPaths {
  const dir = join(dataDir, "tls");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
  };
}

export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  makeDirectorySync(dir, 0o700);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or (for 0644) not mattered; be exact
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  } finally {
    await handle.close().catch(() => {});
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(dir);
}

/** Writes a pair: the key first, so a certificate on disk never lacks its key. */
export async function writePair(certPath: string, keyPath: string, pair: PemPair): Promise<void> {
  await writeFileAtomic(keyPath, pair.key, 0o600);
  await writeFileAtomic(certPath, pair.cert, 0o644);
}

/** The pair, or undefined when either file is missing. */
export async function readPair(certPath: string, keyPath: string): Promise<PemPair | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return { cert, key };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
