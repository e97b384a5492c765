// The pairwise judge of shadow judging (issue 17): the chat request that asks
// a judge model which of two answers to one question is better, the parser of
// its verdict, and how two verdicts (both orders) become one label.
//
// The prompt is MT-Bench's pairwise one (Zheng et al. 2023, "Judging
// LLM-as-a-judge"; FastChat's `pair-v2`): the judge explains briefly, then
// ends with `[[A]]`, `[[B]]` or `[[C]]` (a tie). It stays text-only and
// model-agnostic so any chat backend can judge.

/** A judge's verdict: the first answer, the second, or a tie. */
export type JudgeVerdict = 'A' | 'B' | 'tie';

export const JUDGE_SYSTEM_PROMPT =
  'Please act as an impartial judge and evaluate the quality of the responses provided by two ' +
  'AI assistants to the user question displayed below. You should choose the assistant that ' +
  "follows the user's instructions and answers the user's question better. Your evaluation " +
  'should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and ' +
  'level of detail of their responses. Begin your evaluation by comparing the two responses and ' +
  'provide a short explanation. Avoid any position biases and ensure that the order in which the ' +
  'responses were presented does not influence your decision. Do not allow the length of the ' +
  'responses to influence your evaluation. Do not favor certain names of the assistants. Be as ' +
  'objective as possible. After providing your explanation, output your final verdict by strictly ' +
  'following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, ' +
  'and "[[C]]" for a tie.';

const QUESTION_START = '[User Question]\n';
const ANSWER_A_START = "\n\n[The Start of Assistant A's Answer]\n";
const ANSWER_A_END = "\n[The End of Assistant A's Answer]";
const ANSWER_B_START = "\n\n[The Start of Assistant B's Answer]\n";
const ANSWER_B_END = "\n[The End of Assistant B's Answer]";

/** Enough for the explanation and the verdict; a judge that rambles past it still ends with one, or fails. */
export const JUDGE_MAX_TOKENS = 512;

/** The user message of a judge request. */
export function judgeUserPrompt(question: string, answerA: string, answerB: string): string {
  return (
    QUESTION_START +
    question +
    ANSWER_A_START +
    answerA +
    ANSWER_A_END +
    ANSWER_B_START +
    answerB +
    ANSWER_B_END
  );
}

/**
 * The OpenAI-shaped chat body of one judge call: deterministic sampling
 * (temperature 0), not streamed. The proxy's adapters translate it for the
 * judge backend's provider like any request.
 */
export function judgeRequestBody(
  question: string,
  answerA: string,
  answerB: string,
): Record<string, unknown> {
  return {
    messages: [
      { role: 'system', content: JUDGE_SYSTEM_PROMPT },
      { role: 'user', content: judgeUserPrompt(question, answerA, answerB) },
    ],
    temperature: 0,
    max_tokens: JUDGE_MAX_TOKENS,
    stream: false,
  };
}

/**
 * The question and the two answers out of a judge user prompt (what the
 * simulated judge reads); undefined when the text is not one. The answers
 * are taken up to the last end marker, so an answer that quotes a marker
 * inside it cannot shift where B starts.
 */
export function readJudgeUserPrompt(
  text: string,
): { question: string; answerA: string; answerB: string } | undefined {
  if (!text.startsWith(QUESTION_START) || !text.endsWith(ANSWER_B_END)) return undefined;
  const aStart = text.indexOf(ANSWER_A_START);
  const bStart = text.lastIndexOf(ANSWER_B_START);
  if (aStart < 0 || bStart < aStart) return undefined;
  const aEnd = text.lastIndexOf(ANSWER_A_END, bStart);
  if (aEnd < aStart + ANSWER_A_START.length) return undefined;
  return {
    question: text.slice(QUESTION_START.length, aStart),
    answerA: text.slice(aStart + ANSWER_A_START.length, aEnd),
    answerB: text.slice(bStart + ANSWER_B_START.length, text.length - ANSWER_B_END.length),
  };
}

const VERDICT = /\[\[([ABC])\]\]/g;

/**
 * The verdict in a judge's answer: the `[[A]]`, `[[B]]` or `[[C]]` it gives.
 * A judge that gives none, or contradicts itself (two different verdicts),
 * has no readable verdict: undefined, a failure, never a guess. Repeating the
 * same verdict is fine (some judges restate it).
 */
export function parseJudgeVerdict(answer: string): JudgeVerdict | undefined {
  let found: string | undefined;
  for (const match of answer.matchAll(VERDICT)) {
    const letter = match[1] as string;
    if (found !== undefined && found !== letter) return undefined;
    found = letter;
  }
  if (found === undefined) return undefined;
  return found === 'C' ? 'tie' : (found as 'A' | 'B');
}

/**
 * One label from the two judge calls: `strongFirst` put the strong tier's
 * answer as A, `weakFirst` put it as B. The gain is 1 when the strong answer
 * won both times, −1 when the weak one did, 0 otherwise (a tie in either
 * order, or the orders disagree).
 *
 * Why both orders: LLM judges favour one position (MT-Bench measured
 * GPT-4 preferring the first answer in a sizeable share of swapped pairs).
 * A judge that always picks A would otherwise label every sample "strong
 * wins" or "weak wins" depending only on how we arranged them. Asking again
 * with the answers swapped and counting a win only when both orders agree
 * cancels that bias: a verdict that follows the position flips with the swap
 * and so ends as 0, the same as a tie, and never as a false ±1. It costs two
 * judge calls and yields fewer decisive labels, which is the honest outcome
 * when the judge cannot tell the answers apart.
 */
export function pairwiseGain(strongFirst: JudgeVerdict, weakFirst: JudgeVerdict): -1 | 0 | 1 {
  if (strongFirst === 'A' && weakFirst === 'B') return 1;
  if (strongFirst === 'B' && weakFirst === 'A') return -1;
  return 0;
}
