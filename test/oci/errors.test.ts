import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ERROR_STATUS, isRegistryError, RegistryError } from "../../src/oci/errors.ts";

describe("RegistryError", () => {
  test("every spec error code has its spec status", () => {
    assert.deepEqual(
      {
        BLOB_UNKNOWN: ERROR_STATUS.BLOB_UNKNOWN,
        BLOB_UPLOAD_INVALID: ERROR_STATUS.BLOB_UPLOAD_INVALID,
        BLOB_UPLOAD_UNKNOWN: ERROR_STATUS.BLOB_UPLOAD_UNKNOWN,
        DIGEST_INVALID: ERROR_STATUS.DIGEST_INVALID,
        MANIFEST_BLOB_UNKNOWN: ERROR_STATUS.MANIFEST_BLOB_UNKNOWN,
        MANIFEST_INVALID: ERROR_STATUS.MANIFEST_INVALID,
        MANIFEST_UNKNOWN: ERROR_STATUS.MANIFEST_UNKNOWN,
        NAME_INVALID: ERROR_STATUS.NAME_INVALID,
        NAME_UNKNOWN: ERROR_STATUS.NAME_UNKNOWN,
        SIZE_INVALID: ERROR_STATUS.SIZE_INVALID,
        UNAUTHORIZED: ERROR_STATUS.UNAUTHORIZED,
        DENIED: ERROR_STATUS.DENIED,
        UNSUPPORTED: ERROR_STATUS.UNSUPPORTED,
        TOOMANYREQUESTS: ERROR_STATUS.TOOMANYREQUESTS,
      },
      {
        BLOB_UNKNOWN: 404,
        BLOB_UPLOAD_INVALID: 400,
        BLOB_UPLOAD_UNKNOWN: 404,
        DIGEST_INVALID: 400,
        MANIFEST_BLOB_UNKNOWN: 400,
        MANIFEST_INVALID: 400,
        MANIFEST_UNKNOWN: 404,
        NAME_INVALID: 400,
        NAME_UNKNOWN: 404,
        SIZE_INVALID: 400,
        UNAUTHORIZED: 401,
        DENIED: 403,
        UNSUPPORTED: 405,
        TOOMANYREQUESTS: 429,
      },
    );
  });

  test("renders the spec's JSON envelope with a default message", () => {
    const error = new RegistryError("BLOB_UNKNOWN");
    assert.equal(error.status, 404);
    assert.deepEqual(JSON.parse(error.toBody()), {
      errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry" }],
    });
  });

  test("carries message, detail, headers and an overridden status", () => {
    const error = new RegistryError("SIZE_INVALID", "too big", { limit: 4 }, { "X-A": "b" }, 413);
    assert.equal(error.status, 413);
    assert.equal(error.message, "too big");
    assert.deepEqual(error.headers, { "X-A": "b" });
    assert.deepEqual(JSON.parse(error.toBody()), {
      errors: [{ code: "SIZE_INVALID", message: "too big", detail: { limit: 4 } }],
    });
    assert.equal(isRegistryError(error), true);
    assert.equal(isRegistryError(new Error("x")), false);
    assert.ok(error instanceof Error);
  });
});
