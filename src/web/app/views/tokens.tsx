/**
 * `/account/tokens`: the signed-in user's personal access tokens — create one (name, what it may
 * do, when it expires; the secret is shown once, with a copy button), list them (created, last
 * used, expiry) and revoke them. A token is a password for `docker login` and the API; the
 * server keeps only its hash.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { ApiError } from "../../api/client.ts";
import {
  createToken,
  listTokens,
  type PersonalToken,
  revokeToken,
  TOKEN_ACTIONS,
  type TokenAction,
} from "../../api/tokens.ts";
import { sessionQuery } from "../account.tsx";
import {
  ConfirmDialog,
  type ConfirmRequest,
  CopyButton,
  Empty,
  Loading,
  SectionError,
  TimeText,
  useToast,
} from "../components.tsx";
import { useTitle } from "../hooks.ts";
import { Breadcrumbs } from "./shared.tsx";

const EXPIRY_CHOICES: [string, string][] = [
  ["7", "7 days"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
  ["", "Never"],
];

const tokensQuery = (user: string) => ({
  queryKey: ["tokens", user],
  queryFn: listTokens,
  staleTime: 0,
});

export function TokensView() {
  useTitle("Access tokens");
  const session = useQuery(sessionQuery);
  const user = session.data?.user ?? null;
  return (
    <>
      <Breadcrumbs items={[{ label: "Registries", href: "/" }, { label: "Access tokens" }]} />
      <h1 tabIndex={-1}>Access tokens</h1>
      <p className="lead">
        Personal access tokens stand in for your password with <code>docker login</code>, podman, skopeo and
        the API. Each can be limited and revoked on its own.
      </p>
      {session.isPending && <Loading label="Checking who is signed in…" />}
      {session.isError && <SectionError error={session.error} onRetry={() => session.refetch()} />}
      {session.data && !session.data.authRequired && (
        <Empty>
          <p>This server has no users: nobody signs in and no password is asked, so there are no tokens.</p>
        </Empty>
      )}
      {session.data?.authRequired && !user && (
        <Empty>
          <p>Sign in (top of the page) to see and create your access tokens.</p>
        </Empty>
      )}
      {user && <Tokens user={user} />}
    </>
  );
}

function Tokens({ user }: { user: string }) {
  const client = useQueryClient();
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const tokens = useQuery(tokensQuery(user));
  return (
    <>
      <CreateTokenForm
        onCreated={async (name, secret) => {
          setCreated({ name, secret });
          await client.invalidateQueries({ queryKey: ["tokens", user] });
        }}
      />
      {created && <NewSecret {...created} onDone={() => setCreated(null)} />}
      <section aria-labelledby="tokens-heading" className="section">
        <h2 id="tokens-heading">Your tokens</h2>
        {tokens.isPending && <Loading label="Loading tokens…" />}
        {tokens.isError && <SectionError error={tokens.error} onRetry={() => tokens.refetch()} />}
        {tokens.data &&
          (tokens.data.length === 0 ? (
            <Empty>
              <p>You have no access tokens.</p>
            </Empty>
          ) : (
            <TokenTable user={user} tokens={tokens.data} />
          ))}
      </section>
    </>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (name: string, secret: string) => Promise<void> }) {
  const toast = useToast();
  const nameId = useId();
  const expiryId = useId();
  const hintId = useId();
  const [limited, setLimited] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const name = String(form.get("name") ?? "").trim();
    const actions = form.getAll("actions").map(String) as TokenAction[];
    const days = String(form.get("expiry") ?? "");
    if (limited && actions.length === 0) {
      setError("Choose at least one action, or allow everything your account may do.");
      return;
    }
    setBusy(true);
    setError(null);
    createToken({
      name,
      ...(limited ? { actions } : {}),
      ...(days ? { expiresInDays: Number(days) } : {}),
    }).then(
      async ({ secret }) => {
        setBusy(false);
        formRef.current?.reset();
        setLimited(true);
        toast.show("success", `Created token ${name}`);
        await onCreated(name, secret);
      },
      (failure: unknown) => {
        setBusy(false);
        setError(failure instanceof ApiError || failure instanceof Error ? failure.message : String(failure));
      },
    );
  };

  return (
    <section aria-labelledby="create-heading" className="section">
      <h2 id="create-heading">Create a token</h2>
      <form ref={formRef} className="token-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={nameId}>Name</label>
          <input
            id={nameId}
            name="name"
            required
            maxLength={64}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            spellCheck={false}
            autoComplete="off"
            aria-describedby={hintId}
          />
          <span id={hintId} className="muted small">
            Letters, digits, “.”, “_” or “-”; for example <code>ci-pull</code>.
          </span>
        </div>
        <fieldset className="choice-group">
          <legend>Access</legend>
          <label className="choice">
            <input type="radio" name="scope" checked={limited} onChange={() => setLimited(true)} />
            Only these actions, where your account allows them:
          </label>
          <div className="choice-indent">
            {TOKEN_ACTIONS.map((action) => (
              <label key={action} className="choice">
                <input
                  type="checkbox"
                  name="actions"
                  value={action}
                  defaultChecked={action === "pull"}
                  disabled={!limited}
                />
                {action}
              </label>
            ))}
          </div>
          <label className="choice">
            <input type="radio" name="scope" checked={!limited} onChange={() => setLimited(false)} />
            Everything your account may do
          </label>
        </fieldset>
        <div className="field">
          <label htmlFor={expiryId}>Expires after</label>
          <select id={expiryId} name="expiry" defaultValue="30">
            {EXPIRY_CHOICES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {error && (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}
        <div>
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Creating…" : "Create token"}
          </button>
        </div>
      </form>
    </section>
  );
}

/** The secret of the token just created: shown here once, never again. */
function NewSecret({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const host = window.location.host;
  return (
    <section className="new-secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Token {name} created</h2>
      <p>
        <strong>Copy it now:</strong> it is not shown again. Reestr keeps only a hash of it.
      </p>
      <div className="command">
        <span className="command-label">token</span>
        <code className="command-text" data-secret="">
          {secret}
        </code>
        <CopyButton text={secret} what="token" />
      </div>
      <p className="muted small">
        Use it as the password: <code>docker login {host} -u &lt;your user&gt; --password-stdin</code>
      </p>
      <button type="button" className="button button-small" onClick={onDone}>
        Done, hide it
      </button>
    </section>
  );
}

function actionsText(token: PersonalToken): string {
  return token.actions ? token.actions.join(", ") : "everything the account may do";
}

function TokenTable({ user, tokens }: { user: string; tokens: PersonalToken[] }) {
  const client = useQueryClient();
  const toast = useToast();
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const now = Date.now();
  const askRevoke = (token: PersonalToken) =>
    setConfirm({
      title: `Revoke token ${token.name}?`,
      body: (
        <p>
          Clients signing in with <strong>{token.name}</strong> are refused from now on. This cannot be
          undone; create a new token to replace it.
        </p>
      ),
      confirmLabel: "Revoke token",
      busyLabel: "Revoking…",
      onConfirm: async () => {
        await revokeToken(token.id);
        toast.show("success", `Revoked token ${token.name}`);
        await client.invalidateQueries({ queryKey: ["tokens", user] });
      },
    });
  return (
    <>
      <div className="table-wrap">
        <table className="data-table tokens-table">
          <caption className="visually-hidden">Your personal access tokens, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Access</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => {
              const expired = token.expiresAt !== undefined && Date.parse(token.expiresAt) <= now;
              return (
                <tr key={token.id} data-token={token.name}>
                  <th scope="row" className="mono">
                    {token.name}
                  </th>
                  <td>{actionsText(token)}</td>
                  <td>
                    <TimeText iso={token.createdAt} />
                  </td>
                  <td>{token.lastUsedAt ? <TimeText iso={token.lastUsedAt} /> : "never"}</td>
                  <td>
                    {token.expiresAt ? <TimeText iso={token.expiresAt} /> : "never"}
                    {expired && <span className="badge badge-expired">expired</span>}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button button-small button-danger-quiet"
                      onClick={() => askRevoke(token)}
                      aria-label={`Revoke token ${token.name}`}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}
