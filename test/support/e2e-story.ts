// The end-to-end story's shared parts, told on the loopback pods
// (test/install/end-to-end.test.ts) and on a real node
// (test/node/real-node-e2e.test.ts): the samples' credentials and tenants,
// what `kubectl get mr` must show, which backend each route picks, and the
// traffic that runs while a backend fails.
import type OpenAI from 'openai';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../src/identity/api-key.js';

/** The samples' Secrets, with made-up keys the simulated providers require. */
export const API_KEYS: Record<string, string> = {
  'openai-credentials': 'sk-e2e-openai-0123456789',
  'azure-openai-eu': 'azure-e2e-0123456789',
  'anthropic-credentials': 'sk-ant-e2e-0123456789',
};

/** The gateway's caller: a virtual key of the app's tenant (only its hash is applied). */
export const GATEWAY_KEY = generateApiKey(() => Buffer.alloc(32, 13));

/**
 * Who calls, as the platform team declares it: the assistant pod (by its
 * labels) is tenant `assistant`, which fronts its own users and so is trusted
 * to name their tenant and compliance needs (`acme-premium` is a sample tenant).
 */
export function storyTenants(): object[] {
  return [
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelTenant',
      metadata: { name: 'assistant' },
      spec: {
        identities: { workloads: { matchLabels: { app: 'assistant' } } },
        trustedHeaders: ['tenant', 'compliance'],
      },
    },
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelAPIKey',
      metadata: { name: 'e2e-gateway' },
      spec: {
        tenant: 'assistant',
        hash: hashApiKey(GATEWAY_KEY),
        prefix: apiKeyPrefix(GATEWAY_KEY),
      },
    },
  ];
}

export interface SampleBackend {
  metadata: { name: string };
  spec: {
    provider: 'openai' | 'openai-compatible' | 'azure-openai' | 'anthropic';
    model: string;
    secretRef?: { name: string };
  };
}

export async function chat(
  client: OpenAI,
  model: string,
  headers: Record<string, string> = {},
): Promise<{ backend: string | null; content: string | null }> {
  const { data, response } = await client.chat.completions
    .create(
      { model, messages: [{ role: 'user', content: 'What is the capital of France?' }] },
      { headers },
    )
    .withResponse();
  return {
    backend: response.headers.get('x-modelroute-backend'),
    content: data.choices[0]?.message.content ?? null,
  };
}

/**
 * `kubectl get mr` rows: every sample route Ready, programmed on its proxies
 * (the sidecar and the gateway serve the namespace's routes; shared-chat
 * selects the gateway only), every backend healthy.
 */
export function expectSampleRoutesProgrammed(rows: Map<string, Record<string, string>>): void {
  const expected: Record<string, string> = {
    chat: '2/2',
    'support-bot': '2/2',
    summarize: '2/2',
    'clinical-assistant': '2/2',
    'shared-chat': '1/1',
  };
  for (const [name, programmed] of Object.entries(expected)) {
    const row = rows.get(name);
    expect({ name, ...row }).toMatchObject({ name, READY: 'True', PROGRAMMED: programmed });
    const [healthy, total] = (row?.['HEALTHY BACKENDS'] ?? '').split('/');
    expect({ name, healthy }).toEqual({ name, healthy: total });
  }
}

/** The openai client through the sidecar and the gateway reaches the backend each route picks. */
export async function expectRoutesPickTheirBackends(
  sidecar: OpenAI,
  gateway: OpenAI,
  namespace: string,
): Promise<void> {
  const backend = (name: string) => `${namespace}/${name}`;
  expect(await chat(sidecar, 'support-bot')).toEqual({
    backend: backend('gpt-4o-mini'),
    content: expect.any(String) as string,
  });
  expect((await chat(sidecar, 'chat')).backend).toBe(backend('gpt-4o-mini'));
  // The pod's tenant trusts these headers (see storyTenants()); a pod whose tenant does not is ignored.
  expect((await chat(sidecar, 'chat', { 'x-modelroute-tenant': 'acme-premium' })).backend).toBe(
    backend('gpt-4o'),
  );
  expect(
    (await chat(sidecar, 'clinical-assistant', { 'x-modelroute-compliance': 'hipaa' })).backend,
  ).toBe(backend('llama-3-70b-clinical'));
  expect((await chat(sidecar, 'clinical-assistant')).backend).toBe(backend('azure-gpt-4o-eu'));
  expect((await chat(gateway, 'summarize')).backend).toBe(backend('gpt-4o-mini'));
  expect((await chat(gateway, 'shared-chat')).backend).toBe(backend('gpt-4o-mini'));
  // shared-chat is the gateway's alone.
  await expect(chat(sidecar, 'shared-chat')).rejects.toMatchObject({ status: 404 });

  // Streaming through the sidecar.
  const stream = await sidecar.chat.completions.create({
    model: 'summarize',
    messages: [{ role: 'user', content: 'Summarise: the quick brown fox.' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  expect(text.length).toBeGreaterThan(0);
}

export interface Traffic {
  /** Requests sent so far. */
  readonly sent: number;
  /** Stops after the round in flight; what was served (`model → backend`) and what failed. */
  stop(): Promise<{ sent: number; failures: string[]; served: Map<string, number> }>;
}

/** support-bot through both proxies and shared-chat through the gateway, round after round. */
export function startStoryTraffic(sidecar: OpenAI, gateway: OpenAI, pauseMs = 50): Traffic {
  const failures: string[] = [];
  const served = new Map<string, number>();
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [client, model] of [
        [sidecar, 'support-bot'],
        [gateway, 'support-bot'],
        [gateway, 'shared-chat'],
      ] as const) {
        sent += 1;
        try {
          const r = await chat(client, model);
          const key = `${model} → ${r.backend ?? '?'}`;
          served.set(key, (served.get(key) ?? 0) + 1);
        } catch (err) {
          failures.push(`${model}: ${(err as Error).message}`);
        }
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    get sent() {
      return sent;
    },
    stop: async () => {
      running = false;
      await loop;
      return { sent, failures, served };
    },
  };
}

/**
 * Traffic while gpt-4o-mini was down: no request failed, support-bot was
 * served by its fallback and shared-chat by gpt-4o.
 */
export function expectServedThroughFailover(
  result: Awaited<ReturnType<Traffic['stop']>>,
  namespace: string,
): void {
  expect(result.failures).toEqual([]);
  expect(result.sent).toBeGreaterThan(30);
  expect(result.served.get(`support-bot → ${namespace}/vllm-qwen-32b`)).toBeGreaterThan(0);
  expect(result.served.get(`shared-chat → ${namespace}/gpt-4o`)).toBeGreaterThan(0);
}

/** `kubectl get mr -o wide` while gpt-4o-mini is down: support-bot Ready on its fallback. */
export function expectFailoverShown(rows: Map<string, Record<string, string>>): void {
  const row = rows.get('support-bot');
  expect(row).toMatchObject({ READY: 'True', 'HEALTHY BACKENDS': '1/2' });
  expect(row?.MESSAGE).toContain('failed over from gpt-4o-mini to vllm-qwen-32b');
}

/** `kubectl get mr -o wide` once gpt-4o-mini is back: nothing failed over. */
export function expectRecovered(rows: Map<string, Record<string, string>>): void {
  const row = rows.get('support-bot');
  expect(row).toMatchObject({ READY: 'True', 'HEALTHY BACKENDS': '2/2' });
  expect(row?.MESSAGE).not.toContain('failed over');
}
