// Where each learning rule's state lives between leader terms (issue 17): one
// ConfigMap per rule in the controller's namespace, holding the learner (its
// label window, champion and kept versions), the proxies' label cursors and
// the cost of learning as gzipped JSON. A restarted controller or a new
// leader reads them back, so a promoted model survives both. Only the leader
// writes; a state over the size limit is refused before it is sent.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { kubeMeta } from '../k8s/kinds.js';
import type { KubeClient, ResourceKind } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';
import { upsertConfigMap } from './configmap-upsert.js';

export const LEARNING_LABEL = 'modelroute.io/learning-state';
export const LEARNING_RULE_ANNOTATION = 'modelroute.io/rule';
export const LEARNING_STATE_PREFIX = 'modelroute-learning';
const STATE_KEY = 'state.json.gz';
const FORMAT = 1;
/** Kept well under the API server's 1 MiB object limit (base64 adds a third). */
export const MAX_STATE_BYTES = 700 * 1024;

const learningConfigMapSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: kubeMeta,
  binaryData: z.record(z.string(), z.string()).nullish(),
});
type LearningConfigMap = z.infer<typeof learningConfigMapSchema>;

export const learningConfigMaps: ResourceKind<LearningConfigMap> = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  schema: learningConfigMapSchema,
};

/** "modelroute-learning-<16 hex of the rule key's sha256>": rule keys hold '/' and '#'. */
export function learningConfigMapName(rule: string): string {
  return `${LEARNING_STATE_PREFIX}-${createHash('sha256').update(rule).digest('hex').slice(0, 16)}`;
}

/** A stored rule: its key and the record (validated by its owner, RuleLearningRecord). */
export interface StoredLearning {
  rule: string;
  record: unknown;
}

export interface LearningStoreOptions {
  client: Pick<KubeClient, 'list' | 'get' | 'create' | 'replace'>;
  namespace: string;
  logger: Logger;
}

export class LearningStore {
  constructor(private readonly options: LearningStoreOptions) {}

  /** Every readable stored rule; one that cannot be read is logged and skipped. */
  async loadAll(): Promise<StoredLearning[]> {
    const { client, namespace, logger } = this.options;
    const list = await client.list(learningConfigMaps, {
      namespace,
      labelSelector: `${LEARNING_LABEL}=v${FORMAT}`,
    });
    const out: StoredLearning[] = [];
    for (const cm of list.items) {
      const rule = cm.metadata.annotations?.[LEARNING_RULE_ANNOTATION];
      const b64 = cm.binaryData?.[STATE_KEY];
      try {
        if (!rule) throw new Error(`no ${LEARNING_RULE_ANNOTATION} annotation`);
        if (!b64) throw new Error(`no binaryData key ${STATE_KEY}`);
        const record: unknown = JSON.parse(gunzipSync(Buffer.from(b64, 'base64')).toString('utf8'));
        out.push({ rule, record });
      } catch (err) {
        logger.warn('skipped a learning state ConfigMap that cannot be read', {
          configMap: `${namespace}/${cm.metadata.name}`,
          error: err,
        });
      }
    }
    return out;
  }

  /** Writes one rule's record; throws when it is too large to store. */
  async write(rule: string, record: unknown): Promise<number> {
    const { client, namespace } = this.options;
    const gz = gzipSync(JSON.stringify(record));
    if (gz.byteLength > MAX_STATE_BYTES)
      throw new Error(
        `learning state of ${rule} is ${gz.byteLength} bytes compressed, over the ${MAX_STATE_BYTES}-byte limit; it was not stored`,
      );
    await upsertConfigMap(client, learningConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: learningConfigMapName(rule),
        namespace,
        labels: {
          [LEARNING_LABEL]: `v${FORMAT}`,
          'app.kubernetes.io/name': 'modelroute',
          'app.kubernetes.io/component': 'learning-state',
          'app.kubernetes.io/managed-by': 'modelroute-controller',
        },
        annotations: { [LEARNING_RULE_ANNOTATION]: rule },
      },
      binaryData: { [STATE_KEY]: gz.toString('base64') },
    });
    return gz.byteLength;
  }
}
