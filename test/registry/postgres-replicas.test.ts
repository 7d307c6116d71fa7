/**
 * The PostgreSQL replica lock (src/registry/metadata/postgres-replicas.ts) on a real server: an
 * exclusive claim refuses a second one naming the holder; a PostgreSQL restart (which ends the
 * session and so the lock) is survived by re-taking the lock on a new connection; and a replica
 * that finds the lock taken by another after the restart reports "refused" until it is free.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { claimReplica } from "../../src/registry/metadata/postgres-replicas.ts";
import { type PostgresCluster, startPostgres } from "../helpers/postgres.ts";
import { waitFor } from "../helpers/wait.ts";

describe("PostgreSQL replica lock", { timeout: 120_000 }, () => {
  let pg: PostgresCluster;
  let url: string;
  before(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase();
  });
  after(async () => {
    await pg?.cleanup();
  });

  it("an exclusive claim refuses a second replica, naming it", async () => {
    const first = await claimReplica(url, false);
    try {
      assert.equal(first.state, "held");
      await assert.rejects(
        claimReplica(url, false),
        /another replica \(.+:\d+\) is running on this database/,
      );
      await assert.rejects(claimReplica(url, true), /a replica without redis\.url/);
    } finally {
      await first.close();
    }
    const again = await claimReplica(url, false);
    await again.close();
  });

  it("re-takes the lock after a PostgreSQL restart, without a restart of its own", async () => {
    const changes: string[] = [];
    const claim = await claimReplica(url, false, { retryMs: 200, onChange: (state) => changes.push(state) });
    try {
      await pg.stop();
      await waitFor(() => claim.state === "reconnecting" || undefined);
      await pg.start();
      await waitFor(() => claim.state === "held" || undefined);
      assert.deepEqual(changes, ["reconnecting", "held"]);
      // Held for real: a newcomer is refused again.
      await assert.rejects(claimReplica(url, false), /another replica/);
    } finally {
      await claim.close();
    }
  });

  it("finds the lock taken by another replica after the restart: refused until it is free", async () => {
    // The first retry comes 2 s after the drop, so the replica starting right after the restart wins.
    const claim = await claimReplica(url, false, { retryMs: 2000 });
    try {
      await pg.stop();
      await waitFor(() => claim.state === "reconnecting" || undefined);
      await pg.start();
      const other = await claimReplica(url, false);
      try {
        await waitFor(() => claim.state === "refused" || undefined);
        assert.match(claim.message ?? "", /another replica \(.+:\d+\) is running on this database/);
      } finally {
        await other.close();
      }
      await waitFor(() => claim.state === "held" || undefined);
    } finally {
      await claim.close();
    }
  });
});
