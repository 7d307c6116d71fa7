/**
 * Who may do what where: users, groups and anonymous callers × repository globs × actions.
 *
 * Rules are an ordered list and the FIRST rule that matches both the caller and the repository
 * decides the actions (the model of docker_auth's ACLs): a rule with `actions: []` is an
 * exception that denies, put before the broader rule it carves out of. Without any rule the
 * registry keeps its simple model: every authenticated user may do everything, anonymous callers
 * may pull when `anonymousPull` is on. With rules, `anonymousPull` still gives anonymous callers
 * pull where no rule matched them.
 *
 * Actions: `pull`, `push`, `delete`, `admin`. `push` and `delete` include `pull` (every client
 * reads before it writes: blob existence checks, tag → digest), `admin` includes all three.
 * The catalog (`GET /v2/_catalog`) is open to every authenticated user and, when anonymous
 * callers may pull anything, to them; it lists only the repositories the caller may pull.
 *
 * Administration of the whole registry (garbage collection, scans, resyncs) needs `admin` from a
 * rule whose repositories are every repository (`*` or `**`); without rules every user has it.
 *
 * This class is the one place these decisions are made: the access controller
 * (access-controller.ts) that every module asks, and the token issuer, read it.
 */

import { ACTIONS, type Action } from "../http/access.ts";
import { compileRepositoryGlob } from "../oci/repository-glob.ts";

export { ACTIONS, type Action };

export interface AccessRule {
  /** `user:<name>`, `group:<name>`, `anonymous`, `authenticated` (any logged-in user), `everyone`. */
  subjects: string[];
  /** Globs: `*` one path segment, `**` any depth, `?` one character; `*` or `**` alone: every repository. */
  repositories: string[];
  actions: Action[];
}

export interface AccessPolicyOptions {
  /** Group name → its members (user names). */
  groups?: Record<string, string[]>;
  rules?: AccessRule[];
  anonymousPull?: boolean;
}

const ALL: ReadonlySet<Action> = new Set(ACTIONS);
const PULL: ReadonlySet<Action> = new Set(["pull"]);
const NONE: ReadonlySet<Action> = new Set();

/** What each granted action brings with it. */
const IMPLIED: Record<Action, Action[]> = {
  pull: ["pull"],
  push: ["push", "pull"],
  delete: ["delete", "pull"],
  admin: ["admin", "push", "delete", "pull"],
};

export function expandActions(actions: Iterable<Action>): Set<Action> {
  const result = new Set<Action>();
  for (const action of actions) for (const implied of IMPLIED[action]) result.add(implied);
  return result;
}

const SUBJECT = /^(anonymous|authenticated|everyone|user:[^\s:]+|group:[^\s:]+)$/;

export function validateSubject(subject: string): void {
  if (!SUBJECT.test(subject)) {
    throw new Error(
      `invalid subject "${subject.slice(0, 100)}": expected "user:<name>", "group:<name>", "anonymous", "authenticated" or "everyone"`,
    );
  }
}

interface CompiledRule {
  index: number;
  users: Set<string>;
  groups: Set<string>;
  anonymous: boolean;
  authenticated: boolean;
  repositories: RegExp[];
  /** A rule for every repository (`*` or `**`): the only kind that can make a registry admin. */
  everyRepository: boolean;
  actions: ReadonlySet<Action>;
}

export class AccessPolicy {
  readonly #rules: CompiledRule[];
  readonly #groupsOf = new Map<string, string[]>();
  readonly #anonymousPull: boolean;
  readonly #anonymousCatalog: boolean;

  constructor(options: AccessPolicyOptions = {}) {
    this.#anonymousPull = options.anonymousPull ?? false;
    for (const [group, members] of Object.entries(options.groups ?? {})) {
      for (const member of members) {
        const list = this.#groupsOf.get(member) ?? [];
        list.push(group);
        this.#groupsOf.set(member, list);
      }
    }
    this.#rules = (options.rules ?? []).map((rule, index) => {
      const compiled: CompiledRule = {
        index,
        users: new Set(),
        groups: new Set(),
        anonymous: false,
        authenticated: false,
        repositories: rule.repositories.map(compileRepositoryGlob),
        everyRepository: rule.repositories.some((glob) => glob === "*" || glob === "**"),
        actions: expandActions(rule.actions),
      };
      for (const subject of rule.subjects) {
        validateSubject(subject);
        if (subject === "anonymous") compiled.anonymous = true;
        else if (subject === "authenticated") compiled.authenticated = true;
        else if (subject === "everyone") compiled.anonymous = compiled.authenticated = true;
        else if (subject.startsWith("user:")) compiled.users.add(subject.slice(5));
        else compiled.groups.add(subject.slice(6));
      }
      return compiled;
    });
    this.#anonymousCatalog =
      this.#anonymousPull || this.#rules.some((rule) => rule.anonymous && rule.actions.size > 0);
  }

  /** True when rules are configured (otherwise: any user may do anything). */
  get hasRules(): boolean {
    return this.#rules.length > 0;
  }

  /** The groups a user belongs to. */
  groupsOf(user: string): readonly string[] {
    return this.#groupsOf.get(user) ?? [];
  }

  /** Everything `user` (undefined: anonymous) may do on `repository`, implied actions included. */
  actions(user: string | undefined, repository: string): ReadonlySet<Action> {
    if (this.#rules.length === 0) {
      if (user !== undefined) return ALL;
      return this.#anonymousPull ? PULL : NONE;
    }
    const groups = user === undefined ? [] : this.groupsOf(user);
    for (const rule of this.#rules) {
      if (!this.#matchesSubject(rule, user, groups)) continue;
      if (rule.repositories.some((glob) => glob.test(repository))) return rule.actions;
    }
    return user === undefined && this.#anonymousPull ? PULL : NONE;
  }

  can(user: string | undefined, repository: string, action: Action): boolean {
    return this.actions(user, repository).has(action);
  }

  /** May `user` call the catalog at all (it is filtered by {@link can} … "pull" anyway). */
  canReadCatalog(user: string | undefined): boolean {
    return user !== undefined || this.#anonymousCatalog;
  }

  /**
   * Whether `user` administers the whole registry: the first rule for the caller that covers
   * every repository grants `admin` (without rules: every user).
   */
  isAdmin(user: string | undefined): boolean {
    if (this.#rules.length === 0) return user !== undefined;
    const groups = user === undefined ? [] : this.groupsOf(user);
    for (const rule of this.#rules) {
      if (rule.everyRepository && this.#matchesSubject(rule, user, groups)) return rule.actions.has("admin");
    }
    return false;
  }

  /** True when `user` may pull every repository, so a catalog needs no filtering. */
  pullsEverything(user: string | undefined): boolean {
    if (this.#rules.length === 0) return user !== undefined || this.#anonymousPull;
    return false;
  }

  #matchesSubject(rule: CompiledRule, user: string | undefined, groups: readonly string[]): boolean {
    if (user === undefined) return rule.anonymous;
    if (rule.authenticated || rule.users.has(user)) return true;
    return groups.some((group) => rule.groups.has(group));
  }
}
