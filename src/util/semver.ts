/**
 * A small Semantic Versioning 2.0.0 parser and comparator (https://semver.org), for sorting tags.
 *
 * Accepted: exactly the grammar of semver.org (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, no leading
 * zeros in numeric identifiers), optionally prefixed with a lowercase `v` as many image tags are
 * (`v1.2.3`). Not accepted: `1.2`, `1`, `V1.2.3`, `latest`, `1.02.3` — unless coerced
 * (coerceSemVer, the `semverCoerce` tag filter option), which reads those as semver's `coerce` does.
 *
 * Numbers are kept as digit strings, so versions with components beyond 2^53 still compare exactly.
 */

export interface SemVer {
  major: string;
  minor: string;
  patch: string;
  /** Dot-separated pre-release identifiers; empty for a normal version. */
  prerelease: string[];
  /** Build metadata identifiers; never part of precedence. */
  build: string[];
}

const NUMERIC = "0|[1-9]\\d*";
const PRERELEASE_ID = "(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)";
const BUILD_ID = "[0-9a-zA-Z-]+";
const SEMVER = new RegExp(
  `^v?(${NUMERIC})\\.(${NUMERIC})\\.(${NUMERIC})` +
    `(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?` +
    `(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?$`,
);

/** Parses a semver 2.0.0 version with an optional `v` prefix; undefined when it is not one. */
export function parseSemVer(value: string): SemVer | undefined {
  const match = SEMVER.exec(value);
  if (!match) return undefined;
  return {
    major: match[1]!,
    minor: match[2]!,
    patch: match[3]!,
    prerelease: match[4] === undefined ? [] : match[4].split("."),
    build: match[5] === undefined ? [] : match[5].split("."),
  };
}

/** A leading version of one to three numbers (`1`, `v1.2`, `1.25-alpine`, `1.2.3.4`). */
const PARTIAL = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?!\d)/;

function withoutLeadingZeros(digits: string | undefined): string {
  return digits === undefined ? "0" : digits.replace(/^0+(?=\d)/, "");
}

/**
 * A tag as a version even when it is not quite semver: a semver tag as parseSemVer reads it,
 * otherwise its leading one to three numbers with the missing ones as 0, the way npm's
 * `semver.coerce` does: `1.0` → 1.0.0, `v1` → 1.0.0, `1.25-alpine` → 1.25.0, `1.02` → 1.2.0,
 * `1.2.3.4` → 1.2.3. Unlike `coerce`, the version must start the tag (after an optional v), so
 * `sha-1a2b3c` or `build-42` are not read as versions. Undefined when no version starts it.
 */
export function coerceSemVer(value: string): SemVer | undefined {
  const strict = parseSemVer(value);
  if (strict) return strict;
  const match = PARTIAL.exec(value);
  if (!match) return undefined;
  return {
    major: withoutLeadingZeros(match[1]),
    minor: withoutLeadingZeros(match[2]),
    patch: withoutLeadingZeros(match[3]),
    prerelease: [],
    build: [],
  };
}

const DIGITS = /^\d+$/;

/** Compares two non-negative decimal digit strings without leading zeros (or "0") numerically. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Code-unit (ASCII for valid identifiers) order, as semver.org §11 asks for alphanumerics. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrereleaseId(a: string, b: string): number {
  const aNumeric = DIGITS.test(a);
  const bNumeric = DIGITS.test(b);
  if (aNumeric && bNumeric) return compareDigits(a, b);
  // Numeric identifiers always have lower precedence than alphanumeric ones.
  if (aNumeric) return -1;
  if (bNumeric) return 1;
  return compareStrings(a, b);
}

/**
 * Precedence per semver.org §11: negative when a < b, positive when a > b, 0 when equal in
 * precedence (which ignores build metadata, so `1.0.0+a` and `1.0.0+b` compare equal).
 */
export function compareSemVer(a: SemVer, b: SemVer): number {
  const core =
    compareDigits(a.major, b.major) || compareDigits(a.minor, b.minor) || compareDigits(a.patch, b.patch);
  if (core !== 0) return core;
  // A pre-release version has lower precedence than the normal version.
  if (a.prerelease.length === 0) return b.prerelease.length === 0 ? 0 : 1;
  if (b.prerelease.length === 0) return -1;
  const shared = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < shared; i++) {
    const order = comparePrereleaseId(a.prerelease[i]!, b.prerelease[i]!);
    if (order !== 0) return order;
  }
  // A larger set of pre-release fields has higher precedence when all preceding ones are equal.
  return Math.sign(a.prerelease.length - b.prerelease.length);
}
