/**
 * Building blocks shared by the views: the live region for toasts, copy buttons, the
 * confirmation dialog, section states (loading, error, empty) and small badges.
 */
import type { ReactNode } from "react";
import { createContext, useCallback, useContext, useEffect, useId, useMemo, useRef, useState } from "react";
import { ApiError, type SeverityCounts } from "../api/client.ts";
import { formatRelative, formatTimestamp } from "./format.ts";

// ---- toasts (one aria-live region for the whole app) ----------------------------------------

export interface Toast {
  id: number;
  kind: "info" | "success" | "error";
  text: string;
}

interface ToastApi {
  show(kind: Toast["kind"], text: string): void;
}

const ToastContext = createContext<ToastApi>({ show: () => {} });

export function useToast(): ToastApi {
  return useContext(ToastContext);
}

const TOAST_MS = 6000;

/**
 * Renders the live region at all times (screen readers only announce changes to a region that
 * already exists) and the toasts inside it. Errors stay until dismissed; others fade out.
 */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback(
    (id: number) => setToasts((list) => list.filter((toast) => toast.id !== id)),
    [],
  );
  const show = useCallback(
    (kind: Toast["kind"], text: string) => {
      const id = next.current++;
      setToasts((list) => [...list.slice(-3), { id, kind, text }]);
      if (kind !== "error") setTimeout(() => dismiss(id), TOAST_MS);
    },
    [dismiss],
  );
  const api = useMemo(() => ({ show }), [show]);
  return (
    <ToastContext.Provider value={api}>
      {children}
      <section
        className="toasts"
        aria-live="polite"
        aria-relevant="additions text"
        aria-label="Notifications"
      >
        {toasts.map((toast) => (
          <div
            key={toast.id}
            className={`toast toast-${toast.kind}`}
            role={toast.kind === "error" ? "alert" : "status"}
          >
            <span>{toast.text}</span>
            <button
              type="button"
              className="icon-button"
              onClick={() => dismiss(toast.id)}
              aria-label="Dismiss notification"
            >
              ×
            </button>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}

// ---- copy ------------------------------------------------------------------------------------

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // permission refused or insecure context (plain http on a LAN address): fall back below
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused by the browser");
}

/**
 * A button that copies `text` and says so in the live region; the text is also in data-copy.
 * `what` completes the accessible name ("Copy docker command"), which always starts with the
 * visible text, as WCAG 2.5.3 (label in name) asks.
 */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const toast = useToast();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="button button-small copy-button"
      data-copy={text}
      aria-label={`${copied ? "Copied" : "Copy"} ${what}`}
      onClick={() => {
        copyText(text).then(
          () => {
            setCopied(true);
            toast.show("success", `Copied: ${text}`);
          },
          () => toast.show("error", "Could not copy. Select the text and copy it by hand."),
        );
      }}
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

/** A command shown in full (selectable, never truncated) with its copy button. */
export function CommandLine({ label, command }: { label: string; command: string }) {
  return (
    <div className="command">
      <span className="command-label">{label}</span>
      <code className="command-text">{command}</code>
      <CopyButton text={command} what={`${label} command`} />
    </div>
  );
}

// ---- confirmation dialog -----------------------------------------------------------------------

export interface ConfirmRequest {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  /** Shown on the confirm button while onConfirm runs (default "Deleting…"). */
  busyLabel?: string;
  onConfirm: () => Promise<void>;
}

/**
 * A modal <dialog> shown while `open` (the browser traps focus and closes it on Escape):
 * `onOpen` runs as it opens (reset its state, move the initial focus); `close()` tells the owner
 * and gives the focus back to the element that opened it.
 */
export function useModalDialog(open: boolean, onClose: () => void, onOpen?: () => void) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const opened = useRef(onOpen);
  opened.current = onOpen;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
      opened.current?.();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  const close = () => {
    onClose();
    const target = opener.current;
    if (target instanceof HTMLElement && target.isConnected) target.focus();
  };
  return { ref, close };
}

/**
 * A confirmation in a modal dialog. Cancel has the initial focus, so Enter never destroys
 * anything by accident; focus goes back to the opener when it closes.
 */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = useId();
  const bodyId = useId();
  const { ref, close } = useModalDialog(request !== null, onClose, () => {
    setError(null);
    cancelRef.current?.focus();
  });

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onClose={() => {
        if (request) close();
      }}
    >
      {request && (
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault();
            setBusy(true);
            setError(null);
            request.onConfirm().then(
              () => {
                setBusy(false);
                close();
              },
              (failure: unknown) => {
                setBusy(false);
                setError(
                  failure instanceof ApiError && failure.status === 401
                    ? `${failure.message}. Sign in (top of the page) and try again.`
                    : failure instanceof Error
                      ? failure.message
                      : String(failure),
                );
              },
            );
          }}
        >
          <h2 id={titleId}>{request.title}</h2>
          <div id={bodyId} className="dialog-body">
            {request.body}
          </div>
          {error && (
            <p className="inline-error" role="alert">
              {error}
            </p>
          )}
          <div className="dialog-actions">
            <button type="button" className="button" ref={cancelRef} onClick={close} disabled={busy}>
              Cancel
            </button>
            <button type="submit" className="button button-danger" disabled={busy}>
              {busy ? (request.busyLabel ?? "Deleting…") : request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

// ---- help tips ---------------------------------------------------------------------------------

/**
 * A "?" button explaining a figure: the text shows while the button is hovered or focused (and
 * on a tap), Escape hides it (WCAG 1.4.13), and it is the button's description for screen
 * readers. Fixed positioning keeps it whole inside table headers and scroll boxes that clip.
 */
export function HelpTip({ label, children }: { label: string; children: ReactNode }) {
  const id = useId();
  const buttonRef = useRef<HTMLButtonElement>(null);
  const [at, setAt] = useState<{ left: number; top: number } | null>(null);
  const show = useCallback(() => {
    const rect = buttonRef.current?.getBoundingClientRect();
    if (!rect) return;
    // Kept inside the viewport: 18rem wide at most, below the button.
    const width = Math.min(288, window.innerWidth - 16);
    setAt({ left: Math.max(8, Math.min(rect.left, window.innerWidth - width - 8)), top: rect.bottom + 6 });
  }, []);
  const hide = useCallback(() => setAt(null), []);
  const shown = at !== null;
  useEffect(() => {
    if (!shown) return;
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === "Escape") hide();
    };
    // Fixed positioning: the tip follows its button when anything scrolls.
    window.addEventListener("keydown", onKey);
    window.addEventListener("scroll", show, true);
    window.addEventListener("resize", show);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("scroll", show, true);
      window.removeEventListener("resize", show);
    };
  }, [shown, show, hide]);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: hovering the button or the tip keeps it shown; the button is the keyboard's way in
    <span className="help-tip" onMouseEnter={show} onMouseLeave={hide}>
      <button
        ref={buttonRef}
        type="button"
        className="help-tip-button"
        aria-label={`About ${label}`}
        aria-describedby={id}
        onFocus={show}
        onBlur={hide}
        onClick={() => (at ? hide() : show())}
      >
        ?
      </button>
      <span
        id={id}
        role="tooltip"
        className="help-tip-text"
        hidden={!at}
        style={at ? { left: at.left, top: at.top } : undefined}
      >
        {children}
      </span>
    </span>
  );
}

// ---- section states ----------------------------------------------------------------------------

export function Loading({ label }: { label: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

function errorText(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    switch (error.code) {
      case "UPSTREAM_AUTH_FAILED":
        return { title: "The registry refused Reestr's credentials", detail: error.message };
      case "UPSTREAM_UNREACHABLE":
        return { title: "The registry could not be reached", detail: error.message };
      case "NOT_FOUND":
        return { title: "Not found", detail: error.message };
      case "FORBIDDEN":
        return { title: "Not allowed", detail: error.message };
      case "UNAUTHORIZED":
        return { title: "Sign-in required", detail: error.message };
      case "NETWORK":
        return { title: "No connection", detail: error.message };
      default:
        return { title: "Something went wrong", detail: error.message };
    }
  }
  return { title: "Something went wrong", detail: error instanceof Error ? error.message : String(error) };
}

/** An error confined to one section of a view, with a retry button when retrying can help. */
export function SectionError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { title, detail } = errorText(error);
  return (
    <div className="inline-error-box" role="alert">
      <p>
        <strong>{title}.</strong> {detail}
      </p>
      {onRetry && (
        <button type="button" className="button button-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function isAuthFailure(error: unknown): boolean {
  return error instanceof ApiError && error.code === "UPSTREAM_AUTH_FAILED";
}

// ---- small pieces ------------------------------------------------------------------------------

export function TimeText({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatTimestamp(iso)}>
      {formatRelative(iso)}
    </time>
  );
}

const STATE_LABELS: Record<string, string> = {
  ok: "Reachable",
  auth_failed: "Authentication failed",
  unreachable: "Unreachable",
  unknown: "Not checked yet",
};

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge badge-state-${state}`}>{STATE_LABELS[state] ?? state}</span>;
}

const SEVERITIES = ["critical", "high", "medium", "low", "unknown"] as const;

/** Severity counts as compact badges; null means "not scanned". */
export function VulnerabilityBadges({ counts }: { counts: SeverityCounts | null | undefined }) {
  if (!counts) return <span className="muted">not scanned</span>;
  const present = SEVERITIES.filter((severity) => counts[severity] > 0);
  if (present.length === 0) return <span className="badge badge-clean">none found</span>;
  return (
    <span className="severities">
      {present.map((severity) => (
        <span
          key={severity}
          className={`badge badge-sev-${severity}`}
          title={`${counts[severity]} ${severity}`}
        >
          {counts[severity]} {severity}
        </span>
      ))}
    </span>
  );
}

/** Hook: the value after it stopped changing for `ms` (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
