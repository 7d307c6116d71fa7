/**
 * One manifest in detail: its config, layers, platforms (with each child's size), referrers and
 * pull commands, cached for remote registries, with the watcher's findings and history on top.
 */
import type { Logger } from "../../util/logger.ts";
import type { ImageConfig, ManifestDetail, ManifestPlatform, Referrer } from "../api-schemas.ts";
import {
  blobsOf,
  IMAGE_CONFIG_TYPES,
  platformOf,
  pullCommands,
  readImageConfig,
  readManifest,
  referrerKind,
  totalBytes,
} from "../manifest-view.ts";
import type { ManifestReader } from "./manifest-reader.ts";
import type { RegistryDirectory } from "./registry-directory.ts";
import type { RegistryReads } from "./registry-reads.ts";
import type { WatcherOverlay } from "./watcher-overlay.ts";

type ManifestFacts = Omit<ManifestDetail, "vulnerabilities" | "history">;

export interface ManifestInspectorOptions {
  directory: RegistryDirectory;
  reads: RegistryReads;
  manifests: ManifestReader;
  overlay: WatcherOverlay;
  logger?: Logger;
}

export class ManifestInspector {
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #manifests: ManifestReader;
  readonly #overlay: WatcherOverlay;
  readonly #logger: Logger | undefined;

  constructor(options: ManifestInspectorOptions) {
    this.#directory = options.directory;
    this.#reads = options.reads;
    this.#manifests = options.manifests;
    this.#overlay = options.overlay;
    this.#logger = options.logger;
  }

  async getManifest(id: string, repository: string, reference: string): Promise<ManifestDetail> {
    const { source } = this.#directory.usable(id);
    const facts = source.local
      ? await this.#facts(id, repository, reference)
      : await this.#reads.load(id, `manifest:${repository}:${reference}`, () =>
          this.#facts(id, repository, reference),
        );
    return { ...facts, ...(await this.#overlay.forManifest(source, repository, reference, facts.digest)) };
  }

  async #facts(id: string, repository: string, reference: string): Promise<ManifestFacts> {
    const { source } = this.#directory.get(id);
    const manifest = await source.getManifest(repository, reference);
    const parsed = readManifest(manifest.bytes, manifest.mediaType);
    // The same definition as the tag lists' sizes (see blobsOf); what is not a manifest counts
    // as its own bytes.
    let sizeBytes = parsed.kind === "other" ? manifest.bytes.byteLength : totalBytes(blobsOf(parsed));
    let config: ImageConfig | null = null;
    if (parsed.kind === "image" && parsed.config && IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      try {
        config = readImageConfig(
          await this.#manifests.config(id, repository, parsed.config.digest),
          parsed.config,
        );
      } catch (error) {
        this.#logger?.warn("catalogue config unreadable", {
          registry: id,
          repository,
          digest: parsed.config.digest,
          error: (error as Error).message,
        });
      }
    }
    let platforms: ManifestPlatform[] = [];
    if (parsed.kind === "index") {
      const children = await this.#manifests.childBlobs(id, repository, parsed.manifests);
      platforms = parsed.manifests.map((child, index) => {
        const blobs = children[index];
        return { ...platformOf(child), digest: child.digest, sizeBytes: blobs ? totalBytes(blobs) : null };
      });
      // A layer shared by two platforms is stored once: counted once.
      sizeBytes = totalBytes(new Map(children.flatMap((blobs) => (blobs ? [...blobs] : []))));
    }
    const referrers: Referrer[] = (
      await source.listReferrers(repository, manifest.digest).catch(() => [])
    ).map((r) => ({
      digest: r.digest,
      artifactType: r.artifactType ?? null,
      mediaType: r.mediaType,
      size: r.size,
      annotations: r.annotations ?? {},
      kind: referrerKind(r.artifactType, r.mediaType),
    }));
    return {
      registryId: id,
      repository,
      reference,
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      sizeBytes,
      annotations: parsed.annotations,
      config,
      layers: parsed.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
      platforms,
      referrers,
      pullCommands: pullCommands(source.pullHost, repository, reference, source.plainHttp),
    };
  }
}
