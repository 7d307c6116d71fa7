/**
 * A configured remote registry as a catalogue source, through the project's RegistryClient.
 * The client is bound to the configured base URL: nothing a browser sends can point it at
 * another host (the API takes registry ids, never URLs). Credentials come from the environment
 * (registries-config.ts) and every message that leaves this module is passed through
 * maskSecrets.
 */
import { isRegistryClientError, RegistryClientError } from "../client/errors.ts";
import { RegistryClient } from "../client/registry-client.ts";
import type { Logger } from "../util/logger.ts";
import { maskSecrets, type RegistryCredentials, type RegistryDefinition } from "./registries-config.ts";
import {
  CatalogError,
  type CatalogSource,
  type ManifestContent,
  type ProbeResult,
  type ReferrerInfo,
  type RepositoryInfo,
  type SourceCounts,
  type TagInfo,
} from "./source.ts";

const DEFAULT_TIMEOUT_MS = 10_000;
/** A catalog larger than this is cut (the catalogue pages on the server, but must hold the names). */
const MAX_REPOSITORIES = 100_000;
/** Names asked for per catalog or tag-list page. */
const PAGE_SIZE = 1000;
const EMPTY_DIGEST = `sha256:${"0".repeat(64)}`;

/** Operations the catalogue needs from a registry API described by OpenAPI, and how to spot them. */
export const REQUIRED_OPERATIONS: { name: string; path: RegExp; operationId: RegExp }[] = [
  {
    name: "listRepositories",
    path: /_catalog|\/repositories\/?$/i,
    operationId: /^(list|get)Repositor(y|ies)/i,
  },
  { name: "listTags", path: /\/tags(\/list)?\/?$/i, operationId: /^(list|get)Tags/i },
  { name: "getManifest", path: /\/manifests\/\{[^}]+\}\/?$/i, operationId: /^getManifest/i },
];

export interface RemoteSourceOptions {
  definition: RegistryDefinition;
  /** undefined: anonymous. */
  credentials?: RegistryCredentials;
  /** Why credentials could not be resolved (a missing environment variable): reported by probe(). */
  credentialsProblem?: string;
  probeTimeoutMs?: number;
  /** Where the client's warnings go (a listing cut short by a Link to another host). */
  logger?: Logger;
}

function isNetworkError(error: unknown): boolean {
  if (error instanceof RegistryClientError) return error.status === 0 && error.code !== "INSECURE_HTTP";
  const code = (error as NodeJS.ErrnoException)?.code;
  return (
    typeof code === "string" && /^(E[A-Z]+|UND_ERR.*|CERT.*|DEPTH_ZERO.*|SELF_SIGNED.*|ERR_TLS.*)$/.test(code)
  );
}

/** Whether an optional API answers; a network failure propagates (the registry is down, not lacking it). */
async function answers(request: () => Promise<boolean>): Promise<boolean> {
  try {
    return await request();
  } catch (error) {
    if (isNetworkError(error)) throw error;
    return false;
  }
}

export class RemoteRegistrySource implements CatalogSource {
  readonly id: string;
  readonly local = false;
  readonly baseUrl: string;
  readonly pullHost: string;
  readonly plainHttp: boolean;
  readonly definition: RegistryDefinition;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #credentialsProblem: string | undefined;
  readonly #client: RegistryClient;
  readonly #probeClient: RegistryClient;
  readonly #probeTimeoutMs: number;
  /** Learnt by probe(); the referrers API is only called when it answered. */
  #referrers = true;
  #catalog = true;
  /** What the last probe learnt of /v2/_catalog (undefined: not probed yet). */
  #catalogAnswers: boolean | undefined;

  constructor(options: RemoteSourceOptions) {
    const { definition } = options;
    this.definition = definition;
    this.id = definition.id;
    this.baseUrl = definition.baseUrl.replace(/\/+$/, "");
    const url = new URL(this.baseUrl);
    this.pullHost = definition.pullHost ?? `${url.host}${url.pathname.replace(/\/+$/, "")}`;
    this.plainHttp = url.protocol === "http:";
    this.#credentials = options.credentials;
    this.#credentialsProblem = options.credentialsProblem;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 5000;
    const timeoutMs = definition.timeout ?? DEFAULT_TIMEOUT_MS;
    const common = {
      baseUrl: this.baseUrl,
      insecureSkipVerify: definition.tls.allowInsecure,
      allowHttp: definition.tls.allowHttp,
      headers: { "user-agent": "reestr-catalogue" },
      logger: options.logger,
      ...(options.credentials?.username !== undefined
        ? { username: options.credentials.username, password: options.credentials.password ?? "" }
        : {}),
    };
    this.#client = new RegistryClient({ ...common, timeoutMs, retries: 1, retryBaseDelayMs: 200 });
    this.#probeClient = new RegistryClient({ ...common, timeoutMs: this.#probeTimeoutMs, retries: 0 });
    if (definition.capabilities.catalog === false || definition.repositories) this.#catalog = false;
    if (definition.capabilities.referrers === false) this.#referrers = false;
  }

  /** Upstream failures as API errors, secrets masked. */
  #fail(error: unknown, what: string): never {
    if (error instanceof CatalogError) throw error;
    const text = maskSecrets(error instanceof Error ? error.message : String(error), this.#credentials);
    if (isRegistryClientError(error)) {
      if (error.status === 401 || error.status === 403) {
        throw new CatalogError(
          "UPSTREAM_AUTH_FAILED",
          `${this.id}: ${what}: the registry refused our credentials (${error.status} ${error.code})`,
        );
      }
      if (error.status === 404 || ["NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"].includes(error.code)) {
        throw new CatalogError("NOT_FOUND", `${this.id}: ${what}: not found`);
      }
      if (error.status === 400 && ["NAME_INVALID", "TAG_INVALID", "DIGEST_INVALID"].includes(error.code)) {
        throw new CatalogError("BAD_REQUEST", `${this.id}: ${what}: ${error.code}`);
      }
      if (error.code === "SIZE_INVALID")
        throw new CatalogError("BAD_REQUEST", `${this.id}: ${what}: ${text}`);
    }
    if (isNetworkError(error)) {
      throw new CatalogError("UPSTREAM_UNREACHABLE", `${this.id}: ${what}: registry unreachable: ${text}`);
    }
    throw new CatalogError("UPSTREAM_UNREACHABLE", `${this.id}: ${what}: ${text}`);
  }

  async #withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = Object.assign(new Error(`no answer within ${ms} ms`), { code: "ETIMEDOUT" });
        controller.abort(error);
        reject(error);
      }, ms);
    });
    try {
      return await Promise.race([work(controller.signal), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async probe(): Promise<ProbeResult> {
    const result: ProbeResult = {
      state: "unknown",
      authMode: "unknown",
      message: null,
      capabilities: { catalog: false, referrers: false, delete: false },
      missingOperations: [],
      hint: null,
    };
    try {
      await this.#withDeadline(async () => {
        // Unauthenticated first: the challenge tells the auth mode.
        const anonymous = await this.#probeClient.probe("/v2/");
        const challenge = String(anonymous.headers["www-authenticate"] ?? "").toLowerCase();
        result.authMode =
          anonymous.status === 200
            ? "none"
            : challenge.startsWith("bearer")
              ? "bearer"
              : challenge.startsWith("basic")
                ? "basic"
                : "unknown";
        if (anonymous.status !== 200 && anonymous.status !== 401) {
          throw new RegistryClientError({
            status: anonymous.status,
            code: `HTTP_${anonymous.status}`,
            message: "GET /v2/ did not answer 200 or 401: is this an OCI registry?",
            method: "GET",
            url: `${this.baseUrl}/v2/`,
          });
        }
        if (anonymous.status === 401 && this.#credentialsProblem) {
          result.state = "auth_failed";
          result.message = this.#credentialsProblem;
          result.hint = "set the environment variables named above for the Reestr process and resync";
          return;
        }
        await this.#probeClient.ping();
        result.state = "ok";
        result.capabilities.catalog = this.#catalog ? await this.#probeCatalog() : false;
        this.#catalogAnswers = result.capabilities.catalog;
        if (!result.capabilities.catalog && !this.definition.repositories) {
          result.hint =
            "the registry lists no repositories (/v2/_catalog): name the ones to show under repositories";
        }
        const first = this.definition.repositories?.[0];
        result.capabilities.referrers =
          this.definition.capabilities.referrers === false ? false : await this.#probeReferrers(first);
      }, this.#probeTimeoutMs * 2);
    } catch (error) {
      const text = maskSecrets(error instanceof Error ? error.message : String(error), this.#credentials);
      if (isRegistryClientError(error) && (error.status === 401 || error.status === 403)) {
        result.state = "auth_failed";
        result.message = `authentication failed: ${error.status} ${error.code}`;
        result.hint =
          this.definition.auth.type === "anonymous"
            ? "the registry requires credentials: set auth (basic or bearer) and the REESTR_REGISTRY_<ID>_* environment variables"
            : "check the credentials in the environment variables of this registry";
      } else {
        result.state = "unreachable";
        result.message = text;
        result.hint = /INSECURE_HTTP|plain HTTP/.test(text)
          ? "set tls.allowHttp: true to allow plain HTTP"
          : /certificate|self[- ]signed|CERT/i.test(text)
            ? "set tls.allowInsecure: true for a self-signed certificate"
            : "check baseUrl and that the registry is running";
      }
    }
    this.#referrers = result.capabilities.referrers;
    if (this.definition.openapiUrl && result.state !== "unreachable") {
      const check = await this.#checkOpenApi(this.definition.openapiUrl);
      result.missingOperations = check.missing;
      if (check.problem || check.missing.length > 0) {
        const advice = check.problem
          ? `OpenAPI document: ${check.problem}`
          : `the OpenAPI document lacks ${check.missing.join(", ")}`;
        result.hint = [result.hint, `${advice}; the catalogue uses the OCI Distribution API (/v2) instead`]
          .filter(Boolean)
          .join("; ");
      }
    }
    return result;
  }

  #probeCatalog(): Promise<boolean> {
    return answers(async () => {
      await this.#probeClient.catalogPages({ pageSize: 1 }).next();
      return true;
    });
  }

  #probeReferrers(repository: string | undefined): Promise<boolean> {
    return answers(async () => {
      const repo = repository ?? (await this.#probeClient.catalogPages({ pageSize: 1 }).next()).value?.[0];
      if (!repo) return false;
      await this.#probeClient.listReferrers(repo, EMPTY_DIGEST);
      return true;
    });
  }

  /** Fetches the configured OpenAPI document (a configured URL only) and lists missing operations. */
  async #checkOpenApi(openapiUrl: string): Promise<{ missing: string[]; problem?: string }> {
    const url = new URL(openapiUrl);
    const sameHost = url.host === new URL(this.baseUrl).host;
    const client = new RegistryClient({
      baseUrl: url.origin,
      insecureSkipVerify: this.definition.tls.allowInsecure,
      allowHttp: this.definition.tls.allowHttp,
      timeoutMs: this.#probeTimeoutMs,
      retries: 0,
      // Credentials only go to the registry's own host.
      ...(sameHost && this.#credentials?.username !== undefined
        ? { username: this.#credentials.username, password: this.#credentials.password ?? "" }
        : {}),
    });
    try {
      const response = await this.#withDeadline(
        () => client.probe(`${url.pathname}${url.search}`),
        this.#probeTimeoutMs,
      );
      if (response.status !== 200)
        return { missing: [], problem: `fetching it answered HTTP ${response.status}` };
      const document = response.json as { openapi?: unknown; swagger?: unknown; paths?: unknown } | undefined;
      if (!document || typeof document.paths !== "object" || document.paths === null) {
        return { missing: [], problem: "not a JSON OpenAPI document with paths" };
      }
      return { missing: missingOperations(document.paths as Record<string, unknown>) };
    } catch (error) {
      return {
        missing: [],
        problem: maskSecrets(error instanceof Error ? error.message : String(error), this.#credentials),
      };
    } finally {
      client.close();
    }
  }

  async listRepositories(): Promise<RepositoryInfo[]> {
    if (this.definition.repositories) return this.definition.repositories.map((name) => ({ name }));
    // No catalog and nothing listed: nothing to show (the card's hint says why).
    if (this.definition.capabilities.catalog === false || this.#catalogAnswers === false) return [];
    try {
      const names: string[] = [];
      for await (const page of this.#client.catalogPages({ pageSize: PAGE_SIZE })) {
        names.push(...page);
        if (names.length >= MAX_REPOSITORIES) break;
      }
      return names.map((name) => ({ name }));
    } catch (error) {
      this.#fail(error, "listing repositories");
    }
  }

  async listTags(repository: string): Promise<TagInfo[]> {
    try {
      const tags = await this.#client.listTags(repository, { pageSize: PAGE_SIZE });
      return tags.map((tag) => ({ tag }));
    } catch (error) {
      this.#fail(error, `listing tags of ${repository}`);
    }
  }

  async getManifest(repository: string, reference: string): Promise<ManifestContent> {
    try {
      const manifest = await this.#client.getManifest(repository, reference);
      return { digest: manifest.digest, mediaType: manifest.mediaType, bytes: manifest.bytes };
    } catch (error) {
      this.#fail(error, `manifest ${repository}:${reference}`);
    }
  }

  async getBlob(repository: string, digest: string, maxBytes: number): Promise<Buffer> {
    try {
      return await this.#client.getBlobBytes(repository, digest, { maxBytes });
    } catch (error) {
      this.#fail(error, `blob ${repository}@${digest}`);
    }
  }

  async listReferrers(repository: string, digest: string): Promise<ReferrerInfo[]> {
    if (!this.#referrers) return [];
    try {
      return await this.#client.listReferrers(repository, digest);
    } catch (error) {
      // No referrers API (or not a conforming one): no referrers to show.
      if (
        isRegistryClientError(error) &&
        ([400, 404, 405, 501].includes(error.status) || error.code === "UNSUPPORTED")
      )
        return [];
      this.#fail(error, `referrers of ${repository}@${digest}`);
    }
  }

  async counts(): Promise<SourceCounts> {
    // Counting needs a walk of the registry; the catalogue fills these from what it has cached.
    return { repositories: null, tags: null, storageBytes: null };
  }

  async close(): Promise<void> {
    this.#client.close();
    this.#probeClient.close();
  }
}

/** Which of REQUIRED_OPERATIONS an OpenAPI `paths` object lacks (a GET matching path or operationId). */
export function missingOperations(paths: Record<string, unknown>): string[] {
  const operations: { path: string; operationId: string }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const get = (item as { get?: { operationId?: unknown } } | null)?.get;
    if (!get) continue;
    operations.push({ path, operationId: typeof get.operationId === "string" ? get.operationId : "" });
  }
  return REQUIRED_OPERATIONS.filter(
    (required) =>
      !operations.some((op) => required.path.test(op.path) || required.operationId.test(op.operationId)),
  ).map((required) => required.name);
}
