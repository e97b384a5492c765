// Builders for ModelRoute/ModelBackend objects in tests: parsed through the
// real schemas, so fixtures get the same defaults users get.
import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
  type ModelRouteInput,
} from '../../api/v1alpha1/index.js';
import { factsFromHeaders, type RequestFacts } from '../facts.js';

export function backend(
  name: string,
  spec: Partial<ModelBackendInput['spec']> = {},
  namespace = 'default',
): ModelBackend {
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace },
    spec: {
      provider: 'openai-compatible',
      endpoint: `http://${name}.example:8000/v1`,
      model: name,
      ...spec,
    },
  });
}

export function route(
  name: string,
  spec: Partial<ModelRouteInput['spec']> & Pick<ModelRouteInput['spec'], 'rules'>,
  metadata: { namespace?: string; creationTimestamp?: string } = {},
): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: {
      name,
      namespace: metadata.namespace ?? 'default',
      creationTimestamp: metadata.creationTimestamp,
    },
    spec: { model: name, ...spec },
  });
}

export interface FactsInput {
  model: string;
  headers?: Record<string, string>;
  promptTokens?: number;
  difficulty?: number;
  maxOutputTokens?: number;
  impliedCapabilities?: string[];
}

/** Request facts that also count how often the lazy facts were computed. */
export function facts(
  input: FactsInput,
): RequestFacts & { computed: { tokens: number; difficulty: number } } {
  const computed = { tokens: 0, difficulty: 0 };
  const base = factsFromHeaders({
    model: input.model,
    headers: input.headers ?? {},
    impliedCapabilities: input.impliedCapabilities ?? [],
    promptTokens: () => {
      computed.tokens++;
      return input.promptTokens ?? 100;
    },
    difficulty: () => {
      computed.difficulty++;
      return input.difficulty ?? 0.5;
    },
    maxOutputTokens: input.maxOutputTokens,
  });
  return Object.assign(base, { computed });
}
