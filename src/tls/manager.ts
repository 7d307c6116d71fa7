/**
 * Keeps the HTTPS server's certificate current without a restart.
 *
 * Automatic mode: a local CA (created once under <dataDir>/tls/, kept for its whole life so
 * clients that trust it keep trusting the server) issues the server certificate. At start the
 * certificate on disk is reused when it is the CA's, covers every wanted name and is not due;
 * otherwise a new one is issued. A timer reissues it `renewBefore` ahead of expiry and hands it
 * to `server.setSecureContext`: connections opened after that see the new certificate, ones
 * already open (and their in-flight requests) keep the one they negotiated.
 *
 * User mode: the configured cert and key files are polled and reloaded when they change; a
 * change that leaves them unusable (a key that does not match, a half-written file) is logged
 * and the previous pair stays in force.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import type { Logger } from "../util/logger.ts";
import {
  type CertificateInfo,
  coversNames,
  createCa,
  describeCertificate,
  issuedBy,
  issueServerCert,
  keyMatches,
  type PemPair,
  serverNames,
} from "./certificates.ts";
import type { TlsConfig } from "./config.ts";
import { readPair, tlsPaths, writePair } from "./files.ts";

/** The largest delay setTimeout accepts (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a failed renewal, try again this soon (or sooner when the certificate is nearly out). */
const RETRY_MS = 60_000;

export interface SecureContextTarget {
  setSecureContext(options: { cert: string; key: string }): void;
}

export interface TlsManagerOptions {
  config: TlsConfig;
  dataDir: string;
  logger: Logger;
  now?: () => number;
}

export class TlsManager {
  readonly mode: "auto" | "user";
  readonly #config: TlsConfig;
  readonly #dataDir: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  #pair: PemPair;
  #info: CertificateInfo;
  #ca: PemPair | undefined;
  #targets: SecureContextTarget[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #stamp = "";
  #lastError = "";

  private constructor(options: TlsManagerOptions, pair: PemPair, ca: PemPair | undefined) {
    this.#config = options.config;
    this.#dataDir = options.dataDir;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.mode = options.config.cert ? "user" : "auto";
    this.#pair = pair;
    this.#info = describeCertificate(pair.cert);
    this.#ca = ca;
  }

  /** Loads or creates what the configuration asks for; throws with a clear message when it can't. */
  static async start(options: TlsManagerOptions): Promise<TlsManager> {
    const { config, logger } = options;
    if (config.cert && config.key) {
      const pair = await loadUserPair(resolve(config.cert), resolve(config.key));
      const manager = new TlsManager(options, pair, undefined);
      manager.#stamp = await manager.#userStamp();
      manager.#warnIfExpiring();
      logger.info("tls: using the configured certificate", manager.#summary());
      manager.#schedule(config.reloadInterval);
      return manager;
    }
    const paths = tlsPaths(options.dataDir);
    const now = options.now ?? Date.now;
    let ca = await readPair(paths.caCert, paths.caKey);
    if (ca && !keyMatches(ca.cert, ca.key)) {
      throw new Error(
        `tls: ${paths.caKey} is not the key of ${paths.caCert}; remove both to create a new CA`,
      );
    }
    if (!ca) {
      ca = await createCa({ validityMs: config.caValidity, now: new Date(now()) });
      await writePair(paths.caCert, paths.caKey, ca);
      logger.info("tls: created a local certificate authority", {
        ca: paths.caCert,
        subject: describeCertificate(ca.cert).subject,
        trust: "reestr cert ca",
      });
    }
    const caInfo = describeCertificate(ca.cert);
    if (caInfo.notAfter.getTime() <= now()) {
      throw new Error(
        `tls: the local CA ${paths.caCert} expired on ${caInfo.notAfter.toISOString()}; remove ca.crt and ca.key to create a new one (clients must trust it again)`,
      );
    }
    const existing = await readPair(paths.serverCert, paths.serverKey);
    const reason = existing
      ? reissueReason(existing, ca, serverNames(config.names), config.renewBefore, now())
      : "none on disk";
    // Until the new certificate is issued the manager holds the CA pair as a placeholder.
    const manager = new TlsManager(options, reason || !existing ? ca : existing, ca);
    if (reason) await manager.#issue(reason);
    else logger.info("tls: reusing the server certificate", manager.#summary());
    if (caInfo.notAfter.getTime() - now() < config.renewBefore) {
      logger.warn("tls: the local CA expires soon; server certificates cannot outlive it", {
        notAfter: caInfo.notAfter.toISOString(),
      });
    }
    manager.#schedule(manager.#untilRenewal());
    return manager;
  }

  /** What node:tls needs to start the server. */
  get secureContextOptions(): { cert: string; key: string } {
    return { cert: this.#pair.cert, key: this.#pair.key };
  }

  get certificate(): CertificateInfo {
    return this.#info;
  }

  /** The CA's certificate (automatic mode). */
  get caCertificate(): string | undefined {
    return this.#ca?.cert;
  }

  /** Servers whose secure context follows every renewal or reload. */
  attach(target: SecureContextTarget): void {
    this.#targets.push(target);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #summary(): Record<string, unknown> {
    return {
      serial: this.#info.serialNumber,
      names: this.#info.names,
      notAfter: this.#info.notAfter.toISOString(),
    };
  }

  #wantedNames(): string[] {
    return serverNames(this.#config.names);
  }

  async #issue(reason: string): Promise<void> {
    const paths = tlsPaths(this.#dataDir);
    const pair = await issueServerCert({
      ca: this.#ca!,
      names: this.#wantedNames(),
      validityMs: this.#config.certValidity,
      now: new Date(this.#now()),
    });
    await writePair(paths.serverCert, paths.serverKey, pair);
    this.#apply(pair);
    this.#logger.info("tls: issued a server certificate", { reason, ...this.#summary() });
  }

  #apply(pair: PemPair): void {
    this.#pair = pair;
    this.#info = describeCertificate(pair.cert);
    for (const target of this.#targets) target.setSecureContext({ cert: pair.cert, key: pair.key });
  }

  #untilRenewal(): number {
    const due = this.#info.notAfter.getTime() - this.#config.renewBefore;
    return Math.max(0, due - this.#now());
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), Math.min(delayMs, MAX_TIMER_MS));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    if (this.mode === "user") {
      await this.#reloadUserPair();
      this.#schedule(this.#config.reloadInterval);
      return;
    }
    // The timer may have been clamped (very long validity): renew only once actually due.
    if (this.#untilRenewal() > 0) return this.#schedule(this.#untilRenewal());
    try {
      await this.#issue("due for renewal");
      this.#lastError = "";
      this.#schedule(this.#untilRenewal());
    } catch (error) {
      this.#logger.error("tls: renewing the server certificate failed; retrying", {
        error: (error as Error).message,
        notAfter: this.#info.notAfter.toISOString(),
      });
      const left = this.#info.notAfter.getTime() - this.#now();
      this.#schedule(Math.max(1000, Math.min(RETRY_MS, left / 4)));
    }
  }

  async #userStamp(): Promise<string> {
    const stamps = await Promise.all(
      [this.#config.cert!, this.#config.key!].map(async (file) => {
        const info = await stat(resolve(file));
        return `${info.mtimeMs}:${info.size}:${info.ino}`;
      }),
    );
    return stamps.join("|");
  }

  async #reloadUserPair(): Promise<void> {
    try {
      const stamp = await this.#userStamp();
      if (stamp === this.#stamp) return;
      const pair = await loadUserPair(resolve(this.#config.cert!), resolve(this.#config.key!));
      this.#stamp = stamp;
      this.#lastError = "";
      if (pair.cert === this.#pair.cert && pair.key === this.#pair.key) return;
      this.#apply(pair);
      this.#logger.info("tls: reloaded the configured certificate", this.#summary());
      this.#warnIfExpiring();
    } catch (error) {
      // Reported once per distinct problem; the previous pair keeps serving.
      const message = (error as Error).message;
      if (message !== this.#lastError) {
        this.#logger.error(
          "tls: the configured certificate could not be reloaded; keeping the previous one",
          {
            error: message,
          },
        );
      }
      this.#lastError = message;
    }
  }

  #warnIfExpiring(): void {
    const left = this.#info.notAfter.getTime() - this.#now();
    if (left <= 0) {
      this.#logger.error("tls: the configured certificate has expired", this.#summary());
    } else if (left < this.#config.renewBefore) {
      this.#logger.warn("tls: the configured certificate expires soon", this.#summary());
    }
  }
}

/** Why a server certificate on disk can't be kept, or undefined when it can. */
function reissueReason(
  pair: PemPair,
  ca: PemPair,
  names: readonly string[],
  renewBeforeMs: number,
  now: number,
): string | undefined {
  let info: CertificateInfo;
  try {
    info = describeCertificate(pair.cert);
  } catch {
    return "unreadable certificate";
  }
  if (!keyMatches(pair.cert, pair.key)) return "key does not match";
  if (!issuedBy(pair.cert, ca.cert)) return "not issued by the current CA";
  if (!coversNames(info, names)) return "names changed";
  if (info.notAfter.getTime() - now <= renewBeforeMs) return "due for renewal";
  return undefined;
}

/** Reads and checks a user's pair: PEM that node:tls accepts, and a key that is the certificate's. */
async function loadUserPair(certPath: string, keyPath: string): Promise<PemPair> {
  let pair: PemPair | undefined;
  try {
    pair = await readPair(certPath, keyPath);
  } catch (error) {
    throw new Error(`tls: cannot read ${certPath} / ${keyPath}: ${(error as Error).message}`);
  }
  if (!pair) throw new Error(`tls: ${certPath} or ${keyPath} does not exist`);
  if (!keyMatches(pair.cert, pair.key)) throw new Error(`tls: ${keyPath} is not the key of ${certPath}`);
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
    describeCertificate(pair.cert);
  } catch (error) {
    throw new Error(
      `tls: ${certPath} / ${keyPath} is not a usable PEM certificate and key: ${(error as Error).message}`,
    );
  }
  return pair;
}
