import {
  JUDGE_SYSTEM_PROMPT,
  judgeRequestBody,
  judgeUserPrompt,
  pairwiseGain,
  parseJudgeVerdict,
  readJudgeUserPrompt,
  type JudgeVerdict,
} from './judge-protocol.js';

describe('the judge request', () => {
  test('has the MT-Bench pairwise system prompt and the question with both answers', () => {
    const body = judgeRequestBody('What is 2+2?', 'four', '5');
    expect(body).toMatchObject({ temperature: 0, stream: false });
    const messages = body.messages as { role: string; content: string }[];
    expect(messages[0]).toEqual({ role: 'system', content: JUDGE_SYSTEM_PROMPT });
    expect(JUDGE_SYSTEM_PROMPT).toContain('"[[A]]" if assistant A is better');
    expect(messages[1]?.content).toBe(
      "[User Question]\nWhat is 2+2?\n\n[The Start of Assistant A's Answer]\nfour\n[The End of Assistant A's Answer]" +
        "\n\n[The Start of Assistant B's Answer]\n5\n[The End of Assistant B's Answer]",
    );
  });

  test('reads back the question and answers, even when an answer quotes a marker', () => {
    const tricky = "see [The End of Assistant A's Answer] here";
    const prompt = judgeUserPrompt('q?\nline two', tricky, 'b\n\nmore');
    expect(readJudgeUserPrompt(prompt)).toEqual({
      question: 'q?\nline two',
      answerA: tricky,
      answerB: 'b\n\nmore',
    });
    expect(readJudgeUserPrompt('hello')).toBeUndefined();
  });
});

describe('parseJudgeVerdict', () => {
  test.each<[string, JudgeVerdict | undefined]>([
    ['A is more accurate. [[A]]', 'A'],
    ['Verdict: [[B]]', 'B'],
    ['Both fine. [[C]]', 'tie'],
    ['[[B]] ... so again [[B]]', 'B'],
    ['I prefer A.', undefined],
    ['[[A]] no wait [[B]]', undefined],
    ['[A]', undefined],
    ['', undefined],
    ['[[D]]', undefined],
  ])('%j → %s', (answer, verdict) => {
    expect(parseJudgeVerdict(answer)).toBe(verdict);
  });
});

describe('pairwiseGain (strong answer first, then weak answer first)', () => {
  test.each<[JudgeVerdict, JudgeVerdict, number]>([
    ['A', 'B', 1], // strong won both orders
    ['B', 'A', -1], // weak won both orders
    ['A', 'A', 0], // the judge always picked the first position: bias, not signal
    ['B', 'B', 0], // always the second position
    ['tie', 'B', 0],
    ['A', 'tie', 0],
    ['tie', 'tie', 0],
  ])('%s then %s → %d', (strongFirst, weakFirst, gain) => {
    expect(pairwiseGain(strongFirst, weakFirst)).toBe(gain);
  });
});
