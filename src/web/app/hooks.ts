import { useEffect } from "react";
import { restoreScroll, useLocation } from "./router.tsx";

/** Sets document.title ("… · Reestr") while the view is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Reestr` : "Reestr catalogue";
  }, [title]);
}

/**
 * Applies the pending scroll position (top after a link, the remembered one after Back/Forward)
 * once `ready` (the view's main data is on screen) — again for every new history entry, so
 * the next page of a list starts at the top.
 */
export function useScrollRestore(ready: boolean): void {
  const { key } = useLocation();
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new history entry (key) is the trigger
  useEffect(() => {
    if (ready) requestAnimationFrame(() => restoreScroll());
  }, [ready, key]);
}
