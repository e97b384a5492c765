// The Chat Completions request body as providers that translate it (rather
// than pass it through) read it: zod schemas whose errors name the field and
// the backend, e.g. "messages[2].content[0]: the vertex-gemini backend accepts
// only text content parts here".
import { z } from 'zod';

/** The schema of a chat request for a backend of this provider (named in the errors). */
export function chatRequestSchema(backend: string) {
  // Loose objects: clients send fields we do not translate (name, detail, ...).
  const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
  const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
  const imagePart = z.looseObject({
    type: z.literal('image_url'),
    image_url: z.looseObject({ url: z.string() }),
  });
  const partError = (kinds: string) => ({
    error: `the ${backend} backend accepts only ${kinds} content parts here`,
  });
  const textContent = z.union(
    [z.string(), z.array(z.discriminatedUnion('type', [textPart], partError('text')))],
    { error: 'expected a string or an array of text parts' },
  );
  const userContent = z.union(
    [
      z.string(),
      z.array(z.discriminatedUnion('type', [textPart, imagePart], partError('text and image_url'))),
    ],
    { error: 'expected a string or an array of content parts' },
  );
  const assistantContent = z.union(
    [
      z.string(),
      z.array(z.discriminatedUnion('type', [textPart, refusalPart], partError('text and refusal'))),
    ],
    { error: 'expected a string, null or an array of text parts' },
  );
  const toolCall = z.looseObject({
    id: z.string(),
    type: z.literal('function'),
    function: z.looseObject({ name: z.string(), arguments: z.string() }),
  });
  const chatMessage = z.discriminatedUnion(
    'role',
    [
      z.looseObject({ role: z.enum(['system', 'developer']), content: textContent }),
      z.looseObject({ role: z.literal('user'), content: userContent }),
      z.looseObject({
        role: z.literal('assistant'),
        content: assistantContent.nullish(),
        tool_calls: z.array(toolCall).nullish(),
      }),
      z.looseObject({ role: z.literal('tool'), tool_call_id: z.string(), content: textContent }),
    ],
    {
      error: `role must be system, developer, user, assistant or tool for the ${backend} backend`,
    },
  );

  const functionTool = z.looseObject(
    {
      type: z.literal('function', { error: `the ${backend} backend accepts only function tools` }),
      function: z.looseObject({
        name: z.string(),
        description: z.string().nullish(),
        parameters: z.record(z.string(), z.unknown()).nullish(),
      }),
    },
    { error: 'expected a tool object' },
  );

  return z.looseObject({
    messages: z.array(chatMessage).min(1),
    max_tokens: z.int().positive().nullish(),
    max_completion_tokens: z.int().positive().nullish(),
    temperature: z.number().nullish(),
    top_p: z.number().nullish(),
    presence_penalty: z.number().nullish(),
    frequency_penalty: z.number().nullish(),
    seed: z.int().nullish(),
    stop: z
      .union([z.string(), z.array(z.string())], {
        error: 'expected a string or an array of strings',
      })
      .nullish(),
    tools: z.array(functionTool).nullish(),
    tool_choice: z
      .union(
        [
          z.enum(['auto', 'required', 'none']),
          z.looseObject({
            type: z.literal('function'),
            function: z.looseObject({ name: z.string() }),
          }),
        ],
        { error: "expected 'auto', 'required', 'none' or {type:'function', function:{name}}" },
      )
      .nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    user: z.string().nullish(),
    n: z.int().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.int().nullish(),
    response_format: z
      .looseObject({
        type: z.string(),
        json_schema: z
          .looseObject({ schema: z.record(z.string(), z.unknown()).nullish() })
          .nullish(),
      })
      .nullish(),
  });
}

export type ChatRequest = z.infer<ReturnType<typeof chatRequestSchema>>;
export type ChatMessage = ChatRequest['messages'][number];
