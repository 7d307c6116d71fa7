/**
 * The header's account control: nothing when the server has no users; otherwise "Sign in" (a
 * modal form) or the signed-in user with a link to their access tokens and "Sign out". Deleting on Reestr's own registry needs a
 * signed-in user when the server has users.
 */
import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { ApiError } from "../api/client.ts";
import { fetchSession, login, logout } from "../api/session.ts";
import { useModalDialog, useToast } from "./components.tsx";
import { href, Link } from "./router.tsx";

export const sessionQuery = { queryKey: ["session"], queryFn: fetchSession, staleTime: 60_000 } as const;

/**
 * Before a change on a server with users: refuse early when nobody is signed in. Sending the
 * request anyway would draw the server's Basic challenge, and the browser's own password prompt.
 */
export async function ensureSignedIn(
  client: QueryClient,
  message = "Deleting needs a signed-in user",
): Promise<void> {
  const session = await client.fetchQuery(sessionQuery);
  if (session.authRequired && !session.user) {
    throw new ApiError(401, "UNAUTHORIZED", message);
  }
}

/** `current`: the tokens page is shown (its link is marked as the current page). */
export function Account({ current = false }: { current?: boolean }) {
  const session = useQuery(sessionQuery);
  const client = useQueryClient();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  if (!session.data?.authRequired) return null;
  if (session.data.user) {
    const user = session.data.user;
    return (
      <div className="account">
        <span className="account-user">
          Signed in as <strong>{user}</strong>
        </span>
        <Link href={href.tokens()} className="account-link" aria-current={current ? "page" : undefined}>
          Access tokens
        </Link>
        <button
          type="button"
          className="button button-small"
          onClick={() =>
            logout().then(
              async () => {
                // What the caller may see depends on who it is: every view is read again.
                await client.invalidateQueries();
                toast.show("info", "Signed out");
              },
              (error: Error) => toast.show("error", `Sign-out failed: ${error.message}`),
            )
          }
        >
          Sign out
        </button>
      </div>
    );
  }
  return (
    <div className="account">
      <button type="button" className="button button-small" onClick={() => setOpen(true)}>
        Sign in
      </button>
      <SignInDialog open={open} onClose={() => setOpen(false)} />
    </div>
  );
}

function SignInDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const client = useQueryClient();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = useId();
  const userId = useId();
  const passwordId = useId();
  const { ref, close } = useModalDialog(open, onClose, () => setError(null));

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onClose={() => open && close()}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          setBusy(true);
          setError(null);
          login(String(form.get("username") ?? ""), String(form.get("password") ?? "")).then(
            async () => {
              setBusy(false);
              // What the caller may see depends on who it is: every view is read again.
              await client.invalidateQueries();
              toast.show("success", `Signed in as ${String(form.get("username"))}`);
              onClose();
            },
            (failure: Error) => {
              setBusy(false);
              setError(failure.message);
            },
          );
        }}
      >
        <h2 id={titleId}>Sign in to Reestr</h2>
        <div className="field">
          <label htmlFor={userId}>User name</label>
          <input id={userId} name="username" autoComplete="username" required spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={passwordId}>Password</label>
          <input id={passwordId} name="password" type="password" autoComplete="current-password" required />
        </div>
        {error && (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="button button-quiet" onClick={close} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
