// A scripted upstream that calls a tool, in OpenAI's or Anthropic's dialect,
// buffered or streamed: the simulator answers with text only. It asks for
// get_weather({"city":"Paris"}) until the conversation carries a tool result,
// then answers "It is sunny in Paris." Every request body is recorded.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ModelRoute } from '../../src/api/v1alpha1/index.js';
import { route, startDataPlane, type DataPlane } from './data-plane.js';

export const TOOL_CALL = { id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' };
export const TOOL_ANSWER = 'It is sunny in Paris.';
const USAGE = { input: 21, output: 9 };

export interface ToolUpstream {
  /** Base URL without /v1. */
  url: string;
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

function hasToolResult(body: Json): boolean {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  return messages.some(
    (m) =>
      m.role === 'tool' ||
      (Array.isArray(m.content) && (m.content as Json[]).some((b) => b.type === 'tool_result')),
  );
}

const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

function openaiAnswer(body: Json): { json: Json; events: string[] } {
  const answered = hasToolResult(body);
  const base = { id: 'chatcmpl-t1', created: 1, model: String(body.model) };
  const usage = {
    prompt_tokens: USAGE.input,
    completion_tokens: USAGE.output,
    total_tokens: USAGE.input + USAGE.output,
  };
  const message = answered
    ? { role: 'assistant', content: TOOL_ANSWER }
    : {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: TOOL_CALL.id,
            type: 'function',
            function: { name: TOOL_CALL.name, arguments: TOOL_CALL.arguments },
          },
        ],
      };
  const finish = answered ? 'stop' : 'tool_calls';
  const chunk = (delta: Json, finishReason: string | null = null) =>
    sse({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
  const middle = answered
    ? [chunk({ content: 'It is sunny ' }), chunk({ content: 'in Paris.' })]
    : [
        chunk({
          tool_calls: [
            {
              index: 0,
              id: TOOL_CALL.id,
              type: 'function',
              function: { name: TOOL_CALL.name, arguments: '' },
            },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      ];
  return {
    json: {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message, finish_reason: finish }],
      usage,
    },
    events: [
      chunk({ role: 'assistant', content: '' }),
      ...middle,
      chunk({}, finish),
      sse({ ...base, object: 'chat.completion.chunk', choices: [], usage }),
      'data: [DONE]\n\n',
    ],
  };
}

function anthropicAnswer(body: Json): { json: Json; events: string[] } {
  const answered = hasToolResult(body);
  const usage = { input_tokens: USAGE.input, output_tokens: USAGE.output };
  const block = answered
    ? { type: 'text', text: TOOL_ANSWER }
    : { type: 'tool_use', id: 'toolu_w1', name: TOOL_CALL.name, input: { city: 'Paris' } };
  const stop = answered ? 'end_turn' : 'tool_use';
  const message = { id: 'msg_t1', type: 'message', role: 'assistant', model: String(body.model) };
  const deltas = answered
    ? [
        { type: 'text_delta', text: 'It is sunny ' },
        { type: 'text_delta', text: 'in Paris.' },
      ]
    : [
        { type: 'input_json_delta', partial_json: '{"city":' },
        { type: 'input_json_delta', partial_json: '"Paris"}' },
      ];
  const e = (type: string, data: Json) => sse({ type, ...data }, type);
  return {
    json: { ...message, content: [block], stop_reason: stop, stop_sequence: null, usage },
    events: [
      e('message_start', {
        message: {
          ...message,
          content: [],
          usage: { input_tokens: USAGE.input, output_tokens: 1 },
        },
      }),
      e('content_block_start', {
        index: 0,
        content_block: answered ? { type: 'text', text: '' } : { ...block, input: {} },
      }),
      ...deltas.map((delta) => e('content_block_delta', { index: 0, delta })),
      e('content_block_stop', { index: 0 }),
      e('message_delta', {
        delta: { stop_reason: stop, stop_sequence: null },
        usage: { output_tokens: USAGE.output },
      }),
      e('message_stop', {}),
    ],
  };
}

export async function startToolUpstream(): Promise<ToolUpstream> {
  const requests: Json[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      requests.push(body);
      const answer = req.url?.endsWith('/messages') ? anthropicAnswer(body) : openaiAnswer(body);
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(answer.events.join(''));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.json));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The ingress tests' route `agent` over `backends`; with failover, in order with one retry. */
export function agentRoute(backends: string[], failover = false): ModelRoute[] {
  const backendRefs = backends.map((name) => ({ name }));
  return [
    route('agent', {
      rules: [{ name: 'all', ...(failover ? { strategy: 'priority' as const } : {}), backendRefs }],
      ...(failover ? { retries: { attempts: 2, backoff: '10ms', maxBackoff: '2s' } } : {}),
    }),
  ];
}

export interface ToolPlane extends DataPlane {
  tools: ToolUpstream;
}

/** A proxy whose route `agent` is served by a tool upstream speaking `provider`'s dialect. */
export async function startToolPlane(provider: 'openai' | 'anthropic'): Promise<ToolPlane> {
  const tools = await startToolUpstream();
  const plane = await startDataPlane(
    [
      {
        name: 'tools',
        spec: {
          provider,
          endpoint: provider === 'openai' ? `${tools.url}/v1` : tools.url,
          pricing: { inputPerMillion: 1, outputPerMillion: 2 },
          capabilities: ['chat', 'streaming', 'tools'],
        },
      },
    ],
    agentRoute(['tools']),
  );
  return {
    ...plane,
    tools,
    async close() {
      await plane.close();
      await tools.close();
    },
  };
}
