import { useTitle } from "../hooks.ts";
import { Link } from "../router.tsx";

export function NotFoundView({ path }: { path: string }) {
  useTitle("Not found");
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/">Go to the registries</Link>.
      </p>
    </>
  );
}
