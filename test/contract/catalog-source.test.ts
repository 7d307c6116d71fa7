/**
 * The CatalogSource contract (./catalog-source.contract.ts) for every source: LocalRegistrySource
 * over a real in-process Registry (SQLite metadata, filesystem blobs), and RemoteRegistrySource
 * over HTTP against a real Reestr server and against Debian's CNCF Distribution
 * (docker-registry 2.8, which has no referrers API).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { LocalRegistrySource } from "../../src/catalog/local-source.ts";
import { parseRegistries } from "../../src/catalog/registries-config.ts";
import { RemoteRegistrySource } from "../../src/catalog/remote-source.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../../src/registry/registry.ts";
import { FsBlobStore } from "../../src/registry/storage/fs-blob-store.ts";
import { startServer } from "../api/helpers.ts";
import { startDistribution } from "../helpers/distribution.ts";
import {
  type CatalogSourceFixture,
  type ContentWriter,
  catalogSourceContract,
} from "./catalog-source.contract.ts";

catalogSourceContract(
  "LocalRegistrySource (in-process Registry)",
  { referrers: true, local: true },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "reestr-source-contract-"));
    const metadata = new SqliteMetadataStore(":memory:");
    const registry = new Registry({ blobs: await new FsBlobStore(dir).init(), metadata, index: metadata });
    const writer: ContentWriter = {
      async putBlob(repository, bytes) {
        await registry.putBlob(repository, digestOf(bytes), Readable.from([bytes]));
      },
      async putManifest(repository, reference, bytes, mediaType) {
        await registry.putManifest(repository, reference, bytes, mediaType);
      },
    };
    return {
      source: new LocalRegistrySource({ registry }),
      writer,
      async cleanup() {
        await metadata.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
);

/** A RemoteRegistrySource at `baseUrl`, written to through the project's RegistryClient. */
function remoteFixture(id: string, baseUrl: string, stop: () => Promise<void>): CatalogSourceFixture {
  const [definition] = parseRegistries([{ id, baseUrl }]);
  const source = new RemoteRegistrySource({ definition: definition!, probeTimeoutMs: 5000 });
  const client = new RegistryClient({ baseUrl, retries: 0 });
  return {
    source,
    writer: {
      async putBlob(repository, bytes) {
        await client.pushBlob(repository, { digest: digestOf(bytes), size: bytes.length }, bytes);
      },
      async putManifest(repository, reference, bytes, mediaType) {
        await client.putManifest(repository, reference, bytes, mediaType);
      },
    },
    async cleanup() {
      client.close();
      await source.close();
      await stop();
    },
  };
}

catalogSourceContract(
  "RemoteRegistrySource (Reestr over HTTP)",
  { referrers: true, local: false },
  async () => {
    const server = await startServer();
    return remoteFixture("reestr", server.url, () => server.cleanup());
  },
);

catalogSourceContract(
  "RemoteRegistrySource (CNCF Distribution over HTTP)",
  { referrers: false, local: false },
  async () => {
    const distribution = await startDistribution({ logLevel: "error", disableAccessLog: true });
    return remoteFixture("distribution", distribution.url, () => distribution.cleanup());
  },
);
