// ConfigMap keys a backend references (spec.tls.caBundle.configMapRef): the
// injector mounts each referenced ConfigMap at <dir>/<name>/<key> (env
// MODELROUTE_CONFIGMAPS_DIR names the dir); a proxy started by hand may set
// MODELROUTE_CONFIGMAP_<NAME>_<KEY> instead. ConfigMaps hold nothing secret,
// so there is no origin binding, but only keys the table names are read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONFIG_MAPS_DIR_ENV = 'MODELROUTE_CONFIGMAPS_DIR';

/** Env var name for a ConfigMap key: MODELROUTE_CONFIGMAP_<NAME>_<KEY>, upper-cased, non-alphanumerics as _. */
export function configMapEnvName(name: string, key: string): string {
  return `MODELROUTE_CONFIGMAP_${name}_${key}`.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export interface ConfigMapSource {
  env: NodeJS.ProcessEnv;
  /** Where ConfigMaps are mounted (one folder per ConfigMap); undefined: env only. */
  directory: string | undefined;
}

/** The key's text; throws an Error saying where it was looked for. */
export function readConfigMapKey(
  source: ConfigMapSource,
  ref: { name: string; key: string },
): string {
  const envName = configMapEnvName(ref.name, ref.key);
  const fromEnv = source.env[envName];
  if (fromEnv) return fromEnv;
  if (source.directory !== undefined) {
    try {
      const text = readFileSync(join(source.directory, ref.name, ref.key), 'utf8');
      if (text.trim() !== '') return text;
    } catch {
      // reported below
    }
  }
  const where =
    source.directory === undefined
      ? `env ${envName}`
      : `${join(source.directory, ref.name, ref.key)} or env ${envName}`;
  throw new Error(
    `ConfigMap "${ref.name}" key "${ref.key}" was not found in ${where} (the sidecar injector mounts ConfigMaps the namespace's backends reference when the pod is created: recreate the pod after adding one)`,
  );
}
