// Adapter for Claude on AWS Bedrock through InvokeModel: the Anthropic
// Messages body (without `model`, with Bedrock's anthropic_version) sent to
// the model's invoke URL, signed with SigV4 or a Bedrock API key. Answers are
// Messages answers; the stream is Anthropic's events, each base64 in a `chunk`
// frame of Bedrock's event stream.
import { AnthropicStreamTranslator, parseMessagesResponse } from '../anthropic/adapter.js';
import { messagesBodyFor, modelCall, runtimeProbe } from '../bedrock/runtime.js';
import { bedrockErrorMessage, EventStreamTranslator } from '../bedrock/adapter.js';
import { isRecord } from '../shared/openai-shape.js';
import type {
  BuildRequestArgs,
  BuildResult,
  ProviderAdapter,
  StreamTranslatorArgs,
  Usage,
} from '../types.js';

/** The Messages API version Bedrock's Claude models take in the body. */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

async function buildRequest(args: BuildRequestArgs): Promise<BuildResult> {
  const translated = messagesBodyFor(args, 'anthropic-bedrock');
  if (!translated.ok) return translated;
  // The model is in the URL; streaming is the operation, not a body field.
  const { model: _model, stream: _stream, ...rest } = translated.body;
  const body = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest };
  const operation = args.stream ? 'invoke-with-response-stream' : 'invoke';
  return { ok: true, request: await modelCall({ ...args, operation, body }) };
}

/** InvokeModelWithResponseStream: `chunk` frames carry `{"bytes": base64(Anthropic event JSON)}`. */
class InvokeStreamTranslator extends EventStreamTranslator {
  private readonly messages: AnthropicStreamTranslator;

  constructor(args: StreamTranslatorArgs) {
    super();
    this.messages = new AnthropicStreamTranslator(args);
  }

  get complete(): boolean {
    return this.messages.complete && !this.failed;
  }

  protected onEvent(eventType: string, payload: Buffer): string {
    if (eventType !== 'chunk') return '';
    const json: unknown = JSON.parse(payload.toString('utf8'));
    if (!isRecord(json) || typeof json.bytes !== 'string')
      throw new Error('a chunk event without bytes');
    return this.messages.pushEvent(Buffer.from(json.bytes, 'base64').toString('utf8'));
  }

  protected onError(message: string, type: string): string {
    return this.messages.pushError(message, type);
  }

  end(): { tail: string; usage: Usage | undefined } {
    return this.messages.end();
  }
}

export const anthropicBedrockAdapter: ProviderAdapter = {
  telemetryName: 'aws.bedrock',
  supports: (endpoint) => endpoint === 'chat',
  buildRequest,
  probeRequest: (args) =>
    runtimeProbe(args, {
      operation: 'invoke',
      body: {
        anthropic_version: BEDROCK_ANTHROPIC_VERSION,
        max_tokens: 1,
        messages: [{ role: 'user', content: 'ping' }],
      },
    }),
  parseResponse: parseMessagesResponse,
  createStreamTranslator: (args) => new InvokeStreamTranslator(args),
  errorMessage: bedrockErrorMessage,
};
