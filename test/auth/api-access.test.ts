/**
 * The access defects the one-authorization redesign closed, each against a real `reestr serve`:
 * - the watcher API answered anonymous callers with internal registry URLs and let anyone start
 *   scans of an upstream registry, without limit;
 * - a catalogue resync worked anonymously, and with a session cookie but no CSRF header;
 * - in token mode /api refused the registry's own bearer tokens as a "malformed" header;
 * - a token issued before `reestr user remove` kept working until it expired (sessions and
 *   personal tokens of a removed user too).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningServer, startServer } from "../../src/app/server.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { LimitsSchema } from "../../src/http/limits.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { http, testServerConfig } from "../api/helpers.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
import { InMemoryScanner } from "../watcher/in-memory-scanner.ts";
import { basic, bearer, fetchToken, pushImage } from "./helpers.ts";

const PASSWORDS = { admin: "admin-pass", reader: "reader-pass", gone: "gone-pass" };
const RULES = [
  { subjects: ["user:admin"], repositories: ["**"], actions: ["admin" as const] },
  { subjects: ["user:reader", "user:gone"], repositories: ["team/**"], actions: ["pull" as const] },
];

let dir: string;

async function writeUsers(file: string, users: Record<string, string>): Promise<void> {
  const entries = await Promise.all(
    Object.entries(users).map(async ([user, password]) => [user, await hashPassword(password, 4)] as const),
  );
  await writeHtpasswd(file, new Map(entries));
}

async function serve(
  mode: "basic" | "token",
  name: string,
): Promise<{ server: RunningServer; htpasswd: string }> {
  const htpasswd = join(dir, `${name}.htpasswd`);
  await writeUsers(htpasswd, PASSWORDS);
  const port = await freePort();
  const watch = parseWatchSection({
    registries: [
      { name: "self", url: `http://127.0.0.1:${port}`, repository: "team/app", scanInterval: 3600 },
      // A remote entry: its URL and repository are an administrator's business only.
      {
        name: "upstream",
        url: "http://127.0.0.1:9/internal",
        repository: "secret/thing",
        scanInterval: 3600,
      },
    ],
  });
  const config = testServerConfig(
    {
      auth: { mode, htpasswd, rules: RULES },
      watch,
      limits: LimitsSchema.parse({ expensive: { rate: 0.001, burst: 3 } }),
    },
    join(dir, name),
    port,
  );
  const server = await startServer(config, {
    logger: new JsonLogger({ level: "error" }),
    watchScanner: new InMemoryScanner(),
    watchInitialDelay: () => 3_600_000,
  });
  return { server, htpasswd };
}

/** Signs in on the web login: the session cookie and its CSRF token. */
async function signIn(url: string, user: keyof typeof PASSWORDS): Promise<{ cookie: string; csrf: string }> {
  const res = await http(url, "POST", "/api/auth/login", {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: user, password: PASSWORDS[user] }),
  });
  assert.equal(res.status, 200, res.text());
  const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
  return { cookie, csrf: res.json<{ csrfToken: string }>().csrfToken };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-api-access-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("basic mode", () => {
  let server: RunningServer;
  before(async () => {
    ({ server } = await serve("basic", "basic"));
    await pushImage(server.url, basic("admin", PASSWORDS.admin), "team/app", "v1");
  });
  after(async () => {
    await server?.close();
  });

  test("the watch list shows each caller only what it may see", async () => {
    const names = async (headers: Record<string, string>) => {
      const res = await http(server.url, "GET", "/api/watch/registries", { headers });
      assert.equal(res.status, 200);
      return res
        .json<{ registries: { name: string; url: string }[] }>()
        .registries.map((entry) => entry.name);
    };
    const anonymous = await http(server.url, "GET", "/api/watch/registries");
    assert.ok(!anonymous.text().includes("127.0.0.1:9"), "no internal URL for an anonymous caller");
    assert.deepEqual(await names({}), []);
    assert.deepEqual(
      await names(basic("reader", PASSWORDS.reader)),
      ["self"],
      "a reader sees the entry on team/app",
    );
    assert.deepEqual(await names(basic("admin", PASSWORDS.admin)), ["self", "upstream"]);
    assert.equal((await http(server.url, "GET", "/api/watch/registries/upstream")).status, 401);
    const asReader = await http(server.url, "GET", "/api/watch/registries/upstream", {
      headers: basic("reader", PASSWORDS.reader),
    });
    assert.equal(asReader.status, 403);
    assert.ok(!asReader.text().includes("127.0.0.1:9"));
    // An unknown name is not told apart from a hidden one.
    assert.equal((await http(server.url, "GET", "/api/watch/registries/nope")).status, 401);
  });

  test("a catalogue resync needs an administrator and the CSRF header with a session", async () => {
    const resync = (headers: Record<string, string>) =>
      http(server.url, "POST", "/api/registries/local/resync", { headers });
    assert.equal((await resync({})).status, 401);
    assert.equal((await resync(basic("reader", PASSWORDS.reader))).status, 403);
    const reader = await signIn(server.url, "reader");
    assert.equal((await resync({ cookie: reader.cookie, "x-csrf-token": reader.csrf })).status, 403);
    const admin = await signIn(server.url, "admin");
    assert.equal((await resync({ cookie: admin.cookie })).status, 403, "no CSRF header");
    assert.equal((await resync({ cookie: admin.cookie, "x-csrf-token": admin.csrf })).status, 202);
  });

  test("scan now needs an administrator, the CSRF header with a session, and is rate-limited", async () => {
    const scan = (headers: Record<string, string>) =>
      http(server.url, "POST", "/api/watch/registries/self/scan", { headers });
    assert.equal((await scan({})).status, 401);
    assert.equal((await scan(basic("reader", PASSWORDS.reader))).status, 403);
    const session = await signIn(server.url, "admin");
    const noCsrf = await scan({ cookie: session.cookie });
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.json<{ error: { message: string } }>().error.message, /CSRF/);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await scan({ cookie: session.cookie, "x-csrf-token": session.csrf })).status);
    // The burst of 3 (the limits of this server, less the resync above), then 429s: 30 requests
    // are not 30 scans.
    assert.deepEqual(statuses.slice(0, 2), [202, 202]);
    assert.ok(
      statuses.slice(3).every((status) => status === 429),
      statuses.join(","),
    );
  });
});

describe("token mode", () => {
  let server: RunningServer;
  let htpasswd: string;
  before(async () => {
    ({ server, htpasswd } = await serve("token", "token"));
    const push = await fetchToken(
      server.url,
      ["repository:team/app:pull,push"],
      basic("admin", PASSWORDS.admin),
    );
    await pushImage(server.url, bearer(push), "team/app", "v1");
  });
  after(async () => {
    await server?.close();
  });

  test("/api accepts the registry's own bearer tokens, for what they grant", async () => {
    const token = await fetchToken(
      server.url,
      ["repository:team/app:pull"],
      basic("reader", PASSWORDS.reader),
    );
    const repo = await http(server.url, "GET", "/api/registries/local/repositories/team%2Fapp", {
      headers: bearer(token),
    });
    assert.equal(repo.status, 200, repo.text());
    const tags = await http(server.url, "GET", "/api/registries/local/repositories/team%2Fapp/tags", {
      headers: bearer(token),
    });
    assert.equal(tags.status, 200);
    assert.deepEqual(
      tags.json<{ items: { tag: string }[] }>().items.map((item) => item.tag),
      ["v1"],
    );
    // The token grants team/app:pull only: deleting there is not in it.
    const del = await http(server.url, "DELETE", "/api/registries/local/repositories/team%2Fapp/tags/v1", {
      headers: bearer(token),
    });
    assert.equal(del.status, 403);
    const forged = await http(server.url, "GET", "/api/registries/local/repositories/team%2Fapp", {
      headers: bearer(`${token.slice(0, -4)}AAAA`),
    });
    assert.equal(forged.status, 401);
  });

  test("a removed user is refused at once: bearer tokens, sessions and personal tokens issued before", async () => {
    const token = await fetchToken(server.url, ["repository:team/app:pull"], basic("gone", PASSWORDS.gone));
    const pull = () => http(server.url, "GET", "/v2/team/app/manifests/v1", { headers: bearer(token) });
    assert.equal((await pull()).status, 200);
    const session = await signIn(server.url, "gone");
    const created = await http(server.url, "POST", "/api/auth/tokens", {
      headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "ci" }),
    });
    assert.equal(created.status, 201, created.text());
    const personal = created.json<{ secret: string }>().secret;
    const viaPersonal = () =>
      http(server.url, "GET", "/api/auth/tokens", { headers: basic("gone", personal) });
    assert.equal((await viaPersonal()).status, 200);

    // `reestr user remove gone`: the htpasswd file without the user.
    const { gone: _gone, ...rest } = PASSWORDS;
    await writeUsers(htpasswd, rest);
    // The server notices the changed file on its next look at it (at most once a second).
    const refused = await waitFor(
      async () => {
        const answer = await pull();
        return answer.status === 200 ? undefined : answer;
      },
      { what: "the removed user's token to be refused" },
    );
    assert.equal(refused.status, 401, refused.text());
    assert.match(String(refused.headers["www-authenticate"]), /^Bearer /);
    const sessionAnswer = await http(server.url, "GET", "/api/auth/tokens", {
      headers: { cookie: session.cookie },
    });
    assert.equal(sessionAnswer.status, 401);
    assert.equal((await viaPersonal()).status, 401);
    assert.equal(
      await fetchTokenStatus(server.url, basic("gone", PASSWORDS.gone)),
      401,
      "and no new token either",
    );
  });
});

async function fetchTokenStatus(url: string, headers: Record<string, string>): Promise<number> {
  return (await http(url, "GET", "/auth/token?service=reestr&scope=repository:team/app:pull", { headers }))
    .status;
}
