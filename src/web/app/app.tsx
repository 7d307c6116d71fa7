/**
 * The shell: skip link, header with the main navigation, the routed view inside <main>, and
 * focus management (after a navigation, focus moves to the new view's heading so keyboard and
 * screen-reader users start at the top of what changed).
 */
import { useQuery } from "@tanstack/react-query";
import { Component, type ErrorInfo, type ReactNode, useEffect, useRef } from "react";
import { Account } from "./account.tsx";
import { adminAccessQuery, registriesQuery } from "./queries.ts";
import { href, Link, type Route, useLocation } from "./router.tsx";
import { AdminView } from "./views/admin.tsx";
import { GcView } from "./views/gc.tsx";
import { NotFoundView } from "./views/not-found.tsx";
import { RegistriesView } from "./views/registries.tsx";
import { RepositoriesView } from "./views/repositories.tsx";
import { RepositoryView } from "./views/repository.tsx";
import { RetentionView } from "./views/retention.tsx";
import { ScrubView } from "./views/scrub.tsx";
import { StorageView } from "./views/storage.tsx";
import { TagView } from "./views/tag.tsx";
import { TokensView } from "./views/tokens.tsx";

function View({ route }: { route: Route }) {
  switch (route.view) {
    case "registries":
      return <RegistriesView />;
    case "repositories":
      return <RepositoriesView registryId={route.registryId} />;
    case "repository":
      return <RepositoryView registryId={route.registryId} name={route.name} />;
    case "tag":
      return <TagView registryId={route.registryId} name={route.name} reference={route.tag} kind="tag" />;
    case "manifest":
      return (
        <TagView registryId={route.registryId} name={route.name} reference={route.digest} kind="manifest" />
      );
    case "storage":
      return <StorageView registryId={route.registryId} />;
    case "tokens":
      return <TokensView />;
    case "admin":
      return <AdminView />;
    case "gc":
      return <GcView />;
    case "scrub":
      return <ScrubView />;
    case "retention":
      return <RetentionView />;
    default:
      return <NotFoundView path={route.path} />;
  }
}

/** A crash inside one view shows a message in <main> instead of blanking the whole app. */
class ViewErrorBoundary extends Component<
  { children: ReactNode; resetKey: string },
  { error: Error | null }
> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(previous: { resetKey: string }) {
    // Navigating elsewhere gives the next view a fresh start.
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("view crashed", error, info.componentStack);
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <>
        <h1 tabIndex={-1}>This view failed</h1>
        <div className="inline-error-box" role="alert">
          <p>
            <strong>Something went wrong while showing this page.</strong> {this.state.error.message}
          </p>
          <a className="button button-small" href={window.location.href}>
            Reload
          </a>
        </div>
      </>
    );
  }
}

export function App() {
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  const view = location.route.view;
  const section =
    view === "storage"
      ? view
      : view === "admin" || view === "gc" || view === "scrub" || view === "retention"
        ? "admin"
        : view === "tokens"
          ? "account"
          : "registries";
  // Only administrators see the entry (the pages themselves say so to anyone else), and only
  // where there is a registry of this server's own to maintain: `reestr ui` has none.
  const local = useQuery({
    ...registriesQuery(),
    select: (data) => data.registries.some((registry) => registry.id === "local"),
  });
  const admin = useQuery({ ...adminAccessQuery(), enabled: local.data === true }).data === true;

  // Only a change of view moves focus; changing filters (query string) keeps it in the control.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on pathname changes only
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const heading = mainRef.current?.querySelector<HTMLElement>("h1");
    (heading ?? mainRef.current)?.focus({ preventScroll: true });
  }, [location.pathname]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <Link href="/" className="brand" aria-label="Reestr catalogue home">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
            <rect width="32" height="32" rx="6" fill="currentColor" />
            <path d="M9 8h9a6 6 0 0 1 0 12h-2l6 6h-4l-6-6h-1v6H9z" fill="var(--bg)" />
          </svg>
          <span>Reestr</span>
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link href="/" aria-current={section === "registries" ? "page" : undefined}>
                Registries
              </Link>
            </li>
            <li>
              <Link href="/storage" aria-current={section === "storage" ? "page" : undefined}>
                Storage
              </Link>
            </li>
            {admin && (
              <li>
                <Link href={href.admin()} aria-current={section === "admin" ? "page" : undefined}>
                  Admin
                </Link>
              </li>
            )}
          </ul>
        </nav>
        <Account current={section === "account"} />
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <ViewErrorBoundary resetKey={location.pathname}>
          <View route={location.route} />
        </ViewErrorBoundary>
      </main>
      <footer className="site-footer">
        <p>
          Reestr catalogue · JSON API at <a href="/api/openapi.json">/api/openapi.json</a>
        </p>
      </footer>
    </>
  );
}
