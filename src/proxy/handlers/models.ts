// GET /v1/models: the model names (routes and aliases) this proxy serves that
// the caller's tenant may use.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NON_RECORDING_SPAN } from '../../telemetry/tracing.js';
import { ProxyError, sendError } from '../errors.js';
import type { ProxyRuntime } from '../runtime.js';
import { headerMap, identifyOrRefuse, modelsFor } from './identify.js';

export async function handleModels(
  runtime: ProxyRuntime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const table = runtime.store.prepared?.table;
  let names: string[] = [];
  if (table) {
    try {
      names = modelsFor(
        await identifyOrRefuse(runtime, headerMap(req), table, res, NON_RECORDING_SPAN),
        table,
      );
    } catch (err) {
      if (err instanceof ProxyError) return sendError(res, err);
      throw err;
    }
  }
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
