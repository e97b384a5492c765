// `modelroute validate -f <file|dir>`: offline checks of manifests with the
// same schemas the API server uses, plus the cross-object checks.
import { parseArgs } from 'node:util';
import { formatManifestError, loadAndCheckManifests } from '../api/manifest-files.js';
import { checkSemantics } from '../routing/semantics.js';

export const VALIDATE_USAGE = `usage: modelroute validate -f <file|dir> [-f <file|dir> ...] [-o text|json]

Checks ModelRoute, ModelBackend, ModelTenant, ModelAPIKey and ModelBackendGrant
manifests offline: every field against the API schema, the same cross-field
rules the API server enforces, and the references between the objects in the
given files. Exits 1 on any error.`;

export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function runValidate(argv: string[], io: CommandIO): number {
  let values: { file?: string[]; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${VALIDATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(VALIDATE_USAGE);
    return 0;
  }
  if (!values.file || values.file.length === 0) {
    io.err(`validate needs at least one -f <file|dir>\n${VALIDATE_USAGE}`);
    return 2;
  }
  if (values.output !== 'text' && values.output !== 'json') {
    io.err(`-o must be text or json, not "${values.output ?? ''}"`);
    return 2;
  }

  let loaded;
  try {
    loaded = loadAndCheckManifests(values.file, checkSemantics);
  } catch (err) {
    io.err((err as Error).message);
    return 1;
  }
  const { errors } = loaded;

  const summary = {
    files: loaded.files.length,
    modelRoutes: loaded.routes.length,
    modelBackends: loaded.backends.length,
    modelTenants: loaded.tenants.length,
    modelAPIKeys: loaded.apiKeys.length,
    modelBackendGrants: loaded.grants.length,
    ignored: loaded.ignored.length,
    errors: errors.length,
  };
  if (values.output === 'json') {
    io.out(JSON.stringify({ ok: errors.length === 0, summary, errors }, null, 2));
  } else {
    for (const e of errors) io.err(formatManifestError(e));
    if (loaded.files.length === 0) io.err('no .yaml, .yml or .json files found');
    const identityKinds = [
      [summary.modelTenants, 'ModelTenant(s)'],
      [summary.modelAPIKeys, 'ModelAPIKey(s)'],
      [summary.modelBackendGrants, 'ModelBackendGrant(s)'],
    ]
      .filter(([n]) => n !== 0)
      .map(([n, kind]) => `, ${n} ${kind}`)
      .join('');
    const line = `${summary.files} file(s): ${summary.modelBackends} ModelBackend(s), ${summary.modelRoutes} ModelRoute(s)${identityKinds}, ${summary.ignored} other object(s) ignored`;
    if (errors.length === 0 && loaded.files.length > 0) io.out(`OK: ${line}`);
    else io.err(`FAILED: ${errors.length} error(s) in ${line}`);
  }
  return errors.length === 0 && loaded.files.length > 0 ? 0 : 1;
}
