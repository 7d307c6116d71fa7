/**
 * The `tls`, `limits` and `audit` config sections: environment variables, absent sections
 * staying absent (defaults applied by the server), and problems named by field — including
 * through `reestr serve`, which exits 2 before opening anything.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { loadConfig } from "../../src/config/config.ts";
import { REESTR_BIN } from "../helpers/reestr-process.ts";

describe("tls, limits and audit configuration", () => {
  test("environment variables set them; without any the sections are absent", async () => {
    const config = await loadConfig({
      env: { REESTR_TLS: "yes", REESTR_TLS_NAMES: "a.example, 10.0.0.1", REESTR_AUDIT_FILE: "audit.log" },
    });
    assert.equal(config.tls?.enabled, true);
    assert.deepEqual(config.tls?.names, ["a.example", "10.0.0.1"]);
    assert.equal(config.tls?.renewBefore, 30 * 86_400_000);
    assert.deepEqual(config.audit, { file: "audit.log", log: false, sync: false });
    const plain = await loadConfig({ env: {} });
    assert.equal(plain.tls, undefined);
    assert.equal(plain.limits, undefined);
    assert.equal(plain.audit, undefined);
  });

  test("problems name the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ "tls.cert": "x.crt" }, /tls\.key: cert and key go together/],
      [
        { "tls.enabled": true, "tls.renewBefore": "100d" },
        /tls\.renewBefore: must be shorter than certValidity/,
      ],
      [{ "tls.names": "bad name" }, /tls\.names\[0\]: expected a host name or an IP address/],
      [{ "limits.perClient": { rate: 0, burst: 1 } }, /limits\.perClient\.rate/],
      [{ "limits.login.window": "soon" }, /limits\.login\.window: .*duration/],
      [{ "limits.maxHeaderBytes": 10 }, /limits\.maxHeaderBytes/],
      [{ "audit.bogus": true }, /audit\.bogus: unknown setting/],
    ];
    for (const [flags, message] of cases) {
      await assert.rejects(loadConfig({ env: {}, flags }), message, JSON.stringify(flags));
    }
  });

  test("reestr serve --tls-cert without --tls-key exits 2 naming tls.key", async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [REESTR_BIN, "serve", "--port", "0", "--tls-cert", "x.crt"],
        (error, _o, stderr) => resolve({ code: error ? ((error.code as number) ?? 1) : 0, stderr }),
      );
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /tls\.key: cert and key go together/);
  });
});
