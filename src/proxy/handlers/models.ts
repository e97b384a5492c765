// GET /v1/models: the model names (routes and aliases) this proxy serves.
import type { ServerResponse } from 'node:http';
import type { ProxyRuntime } from '../runtime.js';

export function handleModels(runtime: ProxyRuntime, res: ServerResponse): void {
  const routes = runtime.store.prepared?.table.routes ?? [];
  const names = [...new Set(routes.flatMap((r) => [r.model, ...r.aliases]))].sort();
  const body = JSON.stringify({
    object: 'list',
    data: names.map((id) => ({ id, object: 'model', created: 0, owned_by: 'modelroute' })),
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
