/**
 * Shared helpers of the deploy kit: the DeepPartial type, a deep merge of user config over
 * defaults, the labels every rendered object carries, and validators for Kubernetes quantities
 * and cron schedules.
 */

/** Every property optional, recursively; arrays are replaced as a whole, not merged. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The API version of the objects the builders return (framework metadata). */
export const DEPLOY_API_VERSION = "deploy.reestr.dev/v1alpha1";

export const MANAGED_BY = "reestr";

export type Labels = Record<string, string>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges `override` over `base` recursively and returns a new object: plain objects merge key by
 * key, arrays and scalars replace, `undefined` in the override keeps the base value. Neither
 * argument is modified; the result shares no objects or arrays with them.
 */
export function deepMerge<T>(base: T, override: NoInfer<DeepPartial<T>> | undefined): T {
  return mergeValue(base, override) as T;
}

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = clone(v);
    return out;
  }
  return value;
}

function mergeValue(base: unknown, override: unknown): unknown {
  if (override === undefined) return clone(base);
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(base)) out[k] = clone(v);
    for (const [k, v] of Object.entries(override)) out[k] = mergeValue(base[k], v);
    return out;
  }
  return clone(override);
}

/**
 * The recommended Kubernetes labels applied to everything a builder renders. The selector labels
 * (`name`, `instance`) are the subset Deployments and Services select on.
 */
export function standardLabels(app: string, instance: string, component: string): Labels {
  return {
    "app.kubernetes.io/name": app,
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "app.kubernetes.io/component": component,
  };
}

export function selectorLabels(labels: Labels): Labels {
  return {
    "app.kubernetes.io/name": labels["app.kubernetes.io/name"] ?? "",
    "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"] ?? "",
  };
}

/** Kubernetes resource.Quantity syntax (non-negative): `100m`, `0.5`, `512Mi`, `1e3`, `2G`. */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export function isValidQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

const QUANTITY_SUFFIX: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a Kubernetes quantity in base units (cores for CPU, bytes for memory):
 * `parseQuantity("100m") === 0.1`, `parseQuantity("512Mi") === 536870912`,
 * `parseQuantity("2G") === 2e9`, `parseQuantity("1e3") === 1000`. Throws on invalid syntax.
 */
export function parseQuantity(value: string): number {
  const match = QUANTITY.exec(value);
  if (!match) throw new Error(`invalid Kubernetes quantity "${value}"`);
  const suffix = match[3] ?? "";
  const number = Number(match[1]);
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  return number * (QUANTITY_SUFFIX[suffix] as number);
}

/** Field ranges of a standard 5-field cron expression (minute hour day-of-month month day-of-week). */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const CRON_MACROS = new Set([
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
]);

/**
 * Why `expression` is not a valid 5-field cron schedule (or `@daily`-style macro), or undefined
 * when it is. Fields accept `*`, numbers, names (months, weekdays), ranges `a-b`, steps `/n` and
 * comma lists.
 */
export function cronError(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (trimmed.startsWith("@")) {
    return CRON_MACROS.has(trimmed) ? undefined : `unknown cron macro "${trimmed}"`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `expected 5 fields (minute hour day month weekday), got ${fields.length}`;
  for (let i = 0; i < 5; i++) {
    const spec = CRON_FIELDS[i]!;
    const error = cronFieldError(fields[i]!, spec);
    if (error) return `${spec.name} field "${fields[i]}": ${error}`;
  }
  return undefined;
}

export function isValidCron(expression: string): boolean {
  return cronError(expression) === undefined;
}

function cronValue(token: string, spec: { min: number; max: number; names?: string[] }): number | undefined {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  return spec.min + index;
}

function cronFieldError(
  field: string,
  spec: { min: number; max: number; names?: string[] },
): string | undefined {
  for (const part of field.split(",")) {
    const [range, step, extra] = part.split("/");
    if (extra !== undefined || range === undefined || range === "") return "malformed";
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `bad step "${step}"`;
    if (range === "*") continue;
    const bounds = range.split("-");
    if (bounds.length > 2) return `bad range "${range}"`;
    const values = bounds.map((b) => cronValue(b, spec));
    if (values.some((v) => v === undefined))
      return `value out of range ${spec.min}-${spec.max} in "${range}"`;
    if (values.length === 2 && values[0]! > values[1]!) return `descending range "${range}"`;
  }
  return undefined;
}
