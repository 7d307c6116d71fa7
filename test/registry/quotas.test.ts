/**
 * Quotas over a real SqliteMetadataStore, for what the HTTP tests cannot reach: the usage kept in
 * memory after content is removed behind the registry's back (it may be high, never low, and a
 * refusal is always decided on a fresh measurement), and `forget` after a delete.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { isRegistryError } from "../../src/oci/errors.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Quotas } from "../../src/registry/policy/quotas.ts";

const link = (store: SqliteMetadataStore, repository: string, seed: string, size: number) => () =>
  store.linkBlob(repository, digestOf(seed), size);

test("content removed behind the registry's back: the kept usage stays high, a refusal measures again", async () => {
  const store = new SqliteMetadataStore(":memory:");
  try {
    const quotas = new Quotas([{ repositories: "team/**", limit: 100 }], store);
    await quotas.admit("team/a", digestOf("x"), 60, link(store, "team/a", "x", 60));
    await quotas.admit("team/a", digestOf("y"), 40, link(store, "team/a", "y", 40));
    assert.deepEqual(await quotas.usage(), [{ repositories: "team/**", limit: 100, used: 100 }]);

    // Removed without telling the quotas: the kept figure is now high...
    await store.unlinkBlob("team/a", digestOf("x"));
    assert.equal((await quotas.usage())[0]!.used, 100);
    // ...but a write that fits the true figure is admitted, after measuring again.
    let stored = false;
    await quotas.admit("team/b", digestOf("z"), 50, async () => {
      stored = true;
      await link(store, "team/b", "z", 50)();
    });
    assert.equal(stored, true);
    assert.equal((await quotas.usage())[0]!.used, 90);

    // A write that does not fit is refused, and its store function never runs.
    await assert.rejects(
      quotas.admit("team/b", digestOf("w"), 11, async () => assert.fail("stored although refused")),
      (error: unknown) =>
        isRegistryError(error) && error.code === "DENIED" && /90 B used \+ 11 B/.test(error.message),
    );
    // Outside every scope nothing is checked.
    await quotas.admit("other", digestOf("w"), 1_000, link(store, "other", "w", 1_000));
  } finally {
    await store.close();
  }
});

test("forget makes the next figure a fresh measurement", async () => {
  const store = new SqliteMetadataStore(":memory:");
  try {
    const quotas = new Quotas([{ repositories: "*", limit: 1_000 }], store);
    await quotas.admit("a", digestOf("x"), 300, link(store, "a", "x", 300));
    await store.unlinkBlob("a", digestOf("x"));
    assert.equal((await quotas.usage())[0]!.used, 300);
    quotas.forget("a");
    assert.equal((await quotas.usage())[0]!.used, 0);
  } finally {
    await store.close();
  }
});
