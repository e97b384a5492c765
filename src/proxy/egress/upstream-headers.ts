// A backend's extra upstream headers (spec.headers, e.g. OpenAI-Project),
// added to every request to it once the adapter has built it: client calls,
// shadow calls and health probes alike. They never replace a header the
// adapter set (credentials, content type); admission refuses those names anyway.
import type { CompiledBackend } from '../../routing/table.js';

/** Adds the backend's headers to `headers` (in place: it is the request's own) and returns it. */
export function withBackendHeaders(
  backend: CompiledBackend,
  headers: Record<string, string>,
): Record<string, string> {
  const extra = backend.headers;
  if (extra === undefined) return headers;
  const present = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(extra))
    if (!present.has(name.toLowerCase())) headers[name] = value;
  return headers;
}
