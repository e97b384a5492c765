// What a simulated backend says in a chat answer: generated words; in
// dataset-quality mode the same words led by a marker of the quality recorded
// for the prompt in a results CSV; as a judge, a pairwise verdict read off
// the markers of the two answers in the judge prompt (issue 17's learning
// loop, tested without real models).
import { readFileSync } from 'node:fs';
import { readJudgeUserPrompt } from '../learning/judge-protocol.js';
import { examplesFromCsv } from '../routing/difficulty/learned/dataset.js';
import { seededRandom } from '../routing/random.js';
import type { SimulatorOptions } from './options.js';
import { contentText, isRecord, type TextGenerator } from './text.js';

/** `⟦q=1⟧`: how an answer says the quality it stands for. */
export function qualityMarker(quality: number): string {
  return `⟦q=${quality}⟧`;
}

const MARKER = /⟦q=(-?\d+(?:\.\d+)?(?:e-?\d+)?)⟧/;

/** The quality an answer's marker states; undefined without a marker. */
export function readQualityMarker(text: string): number | undefined {
  const match = MARKER.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The answer modes a server can run in (one at a time). */
export interface AnswerModes {
  /** Dataset quality: prompt → recorded outcome, and the quality of prompts not in it. */
  quality?: { byPrompt: ReadonlyMap<string, number>; unknown: number } | undefined;
  /** Judge: share of verdicts that go to position A whatever the answers (position bias), seeded. */
  judge?: { positionBias: number; seed: number } | undefined;
}

/**
 * Reads a results CSV (a `prompt` column and `column` of 0/1 or numeric
 * outcomes, the format the difficulty router trains on) into prompt →
 * quality. Prompts are matched trimmed; a prompt listed twice keeps its last
 * outcome.
 */
export function loadQualityData(path: string, column: string): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`qualityData: cannot read ${path}: ${(err as Error).message}`);
  }
  // One column serves as both "models": the reader checks it exists and parses every outcome.
  const examples = examplesFromCsv(text, path, { weak: column, strong: column });
  return new Map(examples.map((e) => [e.prompt.trim(), e.weak]));
}

/** The text of the last user message of a chat (OpenAI or Anthropic) body. */
export function lastUserText(body: Record<string, unknown>): string {
  const { messages } = body;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m: unknown = messages[i];
    if (isRecord(m) && m.role === 'user') return contentText(m.content);
  }
  return '';
}

/** The modes simulator options ask for (reads the quality CSV once, at start). */
export function answerModes(options: SimulatorOptions, seed: number): AnswerModes {
  return {
    quality:
      options.qualityData !== undefined && options.qualityColumn !== undefined
        ? {
            byPrompt: loadQualityData(options.qualityData, options.qualityColumn),
            unknown: options.qualityDefault ?? 0.5,
          }
        : undefined,
    judge:
      options.judge === true
        ? { positionBias: options.judgePositionBias ?? 0, seed: seed + 1 }
        : undefined,
  };
}

/** Chat answer pieces (stream pieces that concatenate into the answer) for a body. */
export type AnswerPlanner = (body: Record<string, unknown>, count: number) => readonly string[];

export function answerPlanner(text: TextGenerator, modes: AnswerModes): AnswerPlanner {
  const { quality, judge } = modes;
  if (judge) {
    const random = seededRandom(judge.seed);
    return (body) => splitWords(judgeAnswer(lastUserText(body), judge.positionBias, random));
  }
  if (quality) {
    return (body, count) => {
      const q = quality.byPrompt.get(lastUserText(body).trim()) ?? quality.unknown;
      const words = text.pieces(count);
      const marker = qualityMarker(q);
      return words.length === 0 ? [marker] : [`${marker} ${words[0] as string}`, ...words.slice(1)];
    };
  }
  return (_body, count) => text.pieces(count);
}

/**
 * A judge's answer to a judge prompt: the answer with the higher quality
 * marker wins, equal ones tie; a missing marker counts as quality 0. With
 * probability `positionBias` the verdict is A whatever the answers, as a
 * judge biased towards the first position would say. Not a judge prompt: an
 * answer without a verdict (what a confused judge says).
 */
function judgeAnswer(prompt: string, positionBias: number, random: () => number): string {
  const read = readJudgeUserPrompt(prompt);
  if (!read) return 'I can only compare two answers to a question.';
  const a = readQualityMarker(read.answerA) ?? 0;
  const b = readQualityMarker(read.answerB) ?? 0;
  const biased = positionBias > 0 && random() < positionBias;
  const verdict = biased ? 'A' : a > b ? 'A' : b > a ? 'B' : 'C';
  return `Assistant A's answer has quality ${a} and assistant B's has ${b}. [[${verdict}]]`;
}

function splitWords(text: string): string[] {
  return text.split(' ').map((word, i) => (i === 0 ? word : ` ${word}`));
}
