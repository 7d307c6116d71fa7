/**
 * A feature module: the routes it serves and what the composition root must know of it. Adding
 * a feature to a server is adding a module to its list (src/app/), not editing a dispatcher.
 */
import type { RequestContext } from "./context.ts";
import type { Route } from "./router.ts";

/** One readiness check, as /readyz lists them. */
export interface HealthCheck {
  name: string;
  status: "healthy" | "unhealthy";
  durationMs: number;
  message?: string;
  /**
   * Reported in /readyz but not counted: an unhealthy informational check (a webhook receiver
   * that is down) leaves the server ready, since taking it out of its load balancer would not
   * help the receiver and would stop pushes and pulls.
   */
  informational?: boolean;
}

export interface Module {
  /** For logs and the route table ("v2", "catalog", "watch"). */
  readonly name: string;
  readonly routes: readonly Route[];
  /** Readiness checks for /readyz (stores, upstreams the module cannot work without). */
  health?(): Promise<HealthCheck[]>;
  /** Called once per finished request of any route (the audit log listens here). */
  onFinished?(ctx: RequestContext, status: number): void;
  /** Releases what the module holds; modules close in the reverse order of the list. */
  close?(): Promise<void> | void;
}

/** Runs a probe as a health check: healthy when it resolves, unhealthy with its message when not. */
export async function runCheck(name: string, probe: () => Promise<void>): Promise<HealthCheck> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    await probe();
    return { name, status: "healthy", durationMs: elapsed() };
  } catch (error) {
    return { name, status: "unhealthy", durationMs: elapsed(), message: (error as Error).message };
  }
}
