/**
 * Reestr's own registry as a catalogue source: reads the Registry core directly (its index's
 * aggregates, the core's manifest cache, blob reads), so listing 10,000 repositories is one SQL
 * query and no HTTP round trip. Deletes go through the core (same rules as DELETE on /v2).
 */
import { isRegistryError } from "../oci/errors.ts";
import type { Registry } from "../registry/registry.ts";
import {
  CatalogError,
  type CatalogSource,
  type ManifestContent,
  type ProbeResult,
  type ReferrerInfo,
  type RepositoryInfo,
  type SourceCounts,
  type StorageReport,
  type TagInfo,
} from "./source.ts";

export interface LocalSourceOptions {
  registry: Registry;
  /** The server's URL once it listens (http://127.0.0.1:5000); pull commands use its host. */
  baseUrl?: string;
  /** The /v2 API asks for credentials (shown as the auth mode). */
  authMode?: "none" | "basic" | "bearer";
}

/** The core's errors as API errors: unknown names → 404, bad input → 400, delete disabled → 403. */
function mapError(error: unknown): never {
  if (isRegistryError(error)) {
    switch (error.code) {
      case "NAME_UNKNOWN":
      case "MANIFEST_UNKNOWN":
      case "BLOB_UNKNOWN":
        throw new CatalogError("NOT_FOUND", error.message);
      case "UNSUPPORTED":
      case "DENIED":
        throw new CatalogError("FORBIDDEN", error.message);
      case "UNAUTHORIZED":
        throw new CatalogError("UNAUTHORIZED", error.message);
      case "NAME_INVALID":
      case "DIGEST_INVALID":
      case "MANIFEST_INVALID":
      case "TAG_INVALID" as string:
        throw new CatalogError("BAD_REQUEST", error.message);
    }
    if (error.status >= 400 && error.status < 500) throw new CatalogError("BAD_REQUEST", error.message);
  }
  throw error;
}

export class LocalRegistrySource implements CatalogSource {
  readonly id = "local";
  readonly local = true;
  readonly #registry: Registry;
  readonly #authMode: "none" | "basic" | "bearer";
  #baseUrl: string;

  constructor(options: LocalSourceOptions) {
    this.#registry = options.registry;
    this.#baseUrl = options.baseUrl ?? "http://127.0.0.1:5000";
    this.#authMode = options.authMode ?? "none";
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** Set once the server listens (its port may have been 0). */
  set baseUrl(url: string) {
    this.#baseUrl = url.replace(/\/+$/, "");
  }

  get pullHost(): string {
    const url = new URL(this.#baseUrl);
    return `${url.host}${url.pathname.replace(/\/+$/, "")}`;
  }

  get plainHttp(): boolean {
    return this.#baseUrl.startsWith("http:");
  }

  async probe(): Promise<ProbeResult> {
    // The metadata store decides: every catalogue read goes through it (blob storage trouble
    // shows on /readyz).
    const metadata = (await this.#registry.health()).find((check) => check.name === "metadata");
    if (metadata?.status === "unhealthy") {
      return {
        state: "unreachable",
        authMode: this.#authMode,
        message: `metadata store: ${metadata.message}`,
        capabilities: { catalog: true, referrers: true, delete: this.#registry.deleteEnabled },
        missingOperations: [],
        hint: null,
      };
    }
    return {
      state: "ok",
      authMode: this.#authMode,
      message: null,
      capabilities: { catalog: true, referrers: true, delete: this.#registry.deleteEnabled },
      missingOperations: [],
      hint: null,
    };
  }

  async listRepositories(): Promise<RepositoryInfo[]> {
    const records = await this.#registry.repositorySummaries();
    return records.map((record) => ({
      name: record.name,
      tagCount: record.tags,
      sizeBytes: record.bytes,
      sharedBytes: record.sharedBytes,
      ...(record.updatedAt !== undefined ? { updatedAt: record.updatedAt } : {}),
      signed: record.signed,
      pulls: record.pulls,
      ...(record.lastPulledAt !== undefined ? { lastPulledAt: record.lastPulledAt } : {}),
    }));
  }

  async listTags(repository: string): Promise<TagInfo[]> {
    const records = await this.#registry.listTagRecords(repository);
    if (records === undefined) throw new CatalogError("NOT_FOUND", `repository ${repository} not found`);
    return records.map((record) => ({
      tag: record.tag,
      digest: record.digest,
      mediaType: record.mediaType,
      updatedAt: record.updatedAt,
      pulls: record.pulls,
      ...(record.lastPulledAt !== undefined ? { lastPulledAt: record.lastPulledAt } : {}),
    }));
  }

  async resolveTags(repository: string, tags: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const tag of tags) {
      const digest = await this.#registry.resolveTag(repository, tag);
      if (digest) out.set(tag, digest);
    }
    return out;
  }

  async getManifest(repository: string, reference: string): Promise<ManifestContent> {
    try {
      const manifest = await this.#registry.getManifest(repository, reference);
      return { digest: manifest.digest, mediaType: manifest.mediaType, bytes: Buffer.from(manifest.content) };
    } catch (error) {
      mapError(error);
    }
  }

  async getBlob(repository: string, digest: string, maxBytes: number): Promise<Buffer> {
    try {
      const blob = await this.#registry.getBlob(repository, digest);
      if (blob.size > maxBytes)
        throw new CatalogError("BAD_REQUEST", `blob ${digest} is larger than ${maxBytes} bytes`);
      const chunks: Buffer[] = [];
      for await (const chunk of await blob.open()) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks);
    } catch (error) {
      if (error instanceof CatalogError) throw error;
      mapError(error);
    }
  }

  async listReferrers(repository: string, digest: string): Promise<ReferrerInfo[]> {
    try {
      const { index } = await this.#registry.listReferrers(repository, digest);
      return index.manifests;
    } catch (error) {
      mapError(error);
    }
  }

  /**
   * The store's counts and bytes as a version: every push, tag, delete or upload changes one of
   * them (moving a tag to a manifest already stored does not: tag lists and manifests of the
   * local registry are therefore read directly, never cached), and so does each batch of pull
   * statistics written (the latest pull time), so listings show pulls within a second or so.
   */
  async version(): Promise<string> {
    const s = await this.#registry.stats();
    return `${s.repositories}.${s.manifests}.${s.tags}.${s.blobs}.${s.blobBytes}.${s.lastPulledAt ?? 0}`;
  }

  async counts(): Promise<SourceCounts> {
    const stats = await this.#registry.stats();
    return { repositories: stats.repositories, tags: stats.tags, storageBytes: stats.blobBytes };
  }

  async storage(): Promise<StorageReport> {
    const [records, stats] = await Promise.all([
      this.#registry.repositorySummaries(),
      this.#registry.stats(),
    ]);
    return {
      totalBytes: stats.blobBytes,
      repositories: records.map((record) => ({
        name: record.name,
        bytes: record.bytes,
        sharedBytes: record.sharedBytes,
        tagCount: record.tags,
      })),
    };
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    try {
      await this.#registry.deleteManifest(repository, tag);
    } catch (error) {
      mapError(error);
    }
  }

  async deleteManifest(repository: string, digest: string): Promise<void> {
    try {
      await this.#registry.deleteManifest(repository, digest);
    } catch (error) {
      mapError(error);
    }
  }

  async close(): Promise<void> {
    // The registry belongs to the server, which closes it.
  }
}
