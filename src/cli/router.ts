// `modelroute router train|eval|replay`: trains the learned difficulty model
// from per-prompt results, measures a model with RouteLLM's metrics, and
// replays prompts through the proxy's live strongShare calibration.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { strongShareThreshold } from '../routing/compile.js';
import { seededRandom } from '../routing/random.js';
import { loadExamples, type Example } from '../routing/difficulty/learned/dataset.js';
import { shippedDifficultyModel } from '../routing/difficulty/learned/index.js';
import {
  DifficultyModelError,
  loadDifficultyModel,
  type DifficultyModel,
} from '../routing/difficulty/learned/model.js';
import { randomRouterMetrics, routerMetrics } from '../routing/difficulty/learned/metrics.js';
import {
  LABELS,
  DEFAULT_TRAIN_OPTIONS,
  serializeModel,
  trainDifficultyModel,
  type LabelKind,
} from '../routing/difficulty/learned/train.js';
import { learningReplayCommand, readModelFileV2, replayCommand } from './router-replay.js';
import { trainDifficultyModelV2 } from '../routing/difficulty/learned/train-v2.js';
import type { CommandIO } from './validate.js';

export const ROUTER_USAGE = `usage:
  modelroute router train --data <csv|dir>... --weak <column> --strong <column> --out <model.json>
                          [--exclude <jsonl>...] [--name <name>] [--seed <n>] [--label ${LABELS.join('|')}]
                          [--features v2|v1]
  modelroute router eval  --model <model.json|shipped> --data <csv|dir>... --weak <column> --strong <column>
                          [--exclude <jsonl>...] [--strong-share <0..1>] [--scores-out <file.jsonl>] [--json]
  modelroute router replay --model <model.json|shipped> --data <csv|dir>... --weak <column> --strong <column>
                          --strong-share <0..1> --seed <n> [--warmup 500] [--window 1000]
                          [--requests <n>] [--exclude <jsonl>...] [--json]
  modelroute router replay --model <model.json|shipped> --data <csv|dir>... --weak <column> --strong <column>
                          --feedback-rate <0..1> --seed <n> [--eval-share 0.2] [--min-labels 200]
                          [--learning-window 2000] [--held-out-share 0.2] [--retrain-every <n>]
                          [--exclude <jsonl>...] [--json]

Data files are CSV with a "prompt" column and one column per model holding
True/False or a numeric score (higher is better); a directory stands for the
.csv files in it. --exclude takes JSONL files of prompts to leave out (field
"eval_prompt" or "prompt", or one JSON string per line).

eval prints n, apgr, cpt50, cpt80 and strong_share_for_95 (shares are 0..1)
with RouteLLM's definitions: a threshold sweep at the deciles of the model's
scores, APGR the normalised area under quality against strong-call share,
CPT(x) the strong share that recovers x of the gap between the two models;
"random" is a seeded random router on the same data (≈ 0.5 by construction).
train fits feature set v2 (what kind of task a prompt is, and its length and
structure; the shipped recipe) unless --features v1 asks for the old hashed
word n-grams. Files of either set load.
Evaluating on data the model was trained on measures nothing: hold data out.
--strong-share S adds realized_strong_share: the share of these prompts at or
above the model calibration's fixed threshold for S (what a table carries
before the proxies calibrate). --scores-out writes one JSON line per prompt:
{"score", "weak", "strong"}.

replay streams the prompts in seeded random order (whole shuffled passes;
--requests sets how many) through the strongShare calibration the proxy runs
and prints n, realized_strong_share (after --warmup), max_window_error (the
largest |realised − target| over every --window requests after the warm-up;
null when the stream has no full window), apgr of the scores over the stream,
and quality (the decisions' mean outcome after the warm-up) beside
offline_quality_at_share (the best fixed split of the same prompts at the same
share). --model shipped is the model this version ships.

replay --feedback-rate R runs a route's learning loop (what the controller
does with the labels proxies report) over one shuffled pass of the prompts:
each prompt before the last --eval-share of the stream yields a label with
probability R (seeded), its gain the strong column minus the weak one; the
learner keeps the last --learning-window labels, retrains every
--retrain-every new ones (default a tenth of the window) once it has
--min-labels, warm-started from --model (a format-2 file), and promotes a
challenger only when its APGR on the most recent --held-out-share of the
window, which it was not trained on, beats the champion's with a paired
bootstrap interval above 0. It prints labels, promotions, apgr_prior and
apgr_adapted: the APGR of --model and of the final champion on the last part
of the stream, which no label came from.`;

const OPTIONS = {
  data: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  weak: { type: 'string' },
  strong: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  name: { type: 'string' },
  seed: { type: 'string' },
  label: { type: 'string' },
  'strong-share': { type: 'string' },
  'scores-out': { type: 'string' },
  warmup: { type: 'string' },
  window: { type: 'string' },
  requests: { type: 'string' },
  features: { type: 'string' },
  'feedback-rate': { type: 'string' },
  'eval-share': { type: 'string' },
  'min-labels': { type: 'string' },
  'learning-window': { type: 'string' },
  'held-out-share': { type: 'string' },
  'retrain-every': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `--data a.csv b.csv` (what a shell glob gives) means `--data a.csv --data b.csv`. */
export function expandMultiValueFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  let current: string | undefined;
  for (const arg of argv) {
    if (arg.startsWith('-')) {
      current = flags.includes(arg) ? arg : undefined;
      if (current === undefined) out.push(arg);
      continue;
    }
    if (current !== undefined) out.push(current, arg);
    else out.push(arg);
  }
  return out;
}

function csvFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.toLowerCase().endsWith('.csv'))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}

const round = (x: number | null, digits = 4) => (x === null ? null : Number(x.toFixed(digits)));

type RouterValues = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

const SUBCOMMANDS = ['train', 'eval', 'replay'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Flags that only one or two subcommands take: naming them elsewhere is a mistake worth saying. */
const ONLY_FOR: Partial<Record<keyof typeof OPTIONS, readonly Subcommand[]>> = {
  out: ['train'],
  name: ['train'],
  label: ['train'],
  model: ['eval', 'replay'],
  'strong-share': ['eval', 'replay'],
  'scores-out': ['eval'],
  warmup: ['replay'],
  window: ['replay'],
  requests: ['replay'],
  'feedback-rate': ['replay'],
  'eval-share': ['replay'],
  'min-labels': ['replay'],
  'learning-window': ['replay'],
  'held-out-share': ['replay'],
  'retrain-every': ['replay'],
};

/** Flags of the strongShare replay, and of the learning replay (--feedback-rate). */
const SHARE_REPLAY_ONLY = ['strong-share', 'warmup', 'window', 'requests'] as const;
const LEARNING_REPLAY_ONLY = [
  'eval-share',
  'min-labels',
  'learning-window',
  'held-out-share',
  'retrain-every',
] as const;

const REQUIRED: Record<Subcommand, readonly (keyof typeof OPTIONS)[]> = {
  train: ['data', 'weak', 'strong', 'out'],
  eval: ['data', 'weak', 'strong', 'model'],
  replay: ['data', 'weak', 'strong', 'model', 'strong-share', 'seed'],
};

/** A share in 0..1 from a flag, or an error message. */
export function parseShare(flag: string, value: string): number | string {
  const x = value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(x) && x >= 0 && x <= 1
    ? x
    : `${flag} must be a share between 0 and 1 (e.g. 0.2 for 20%), not "${value}"`;
}

/** A whole count from a flag (at least `min`), or an error message. */
export function parseCount(flag: string, value: string, min: number): number | string {
  const x = value.trim() === '' ? NaN : Number(value);
  return Number.isSafeInteger(x) && x >= min
    ? x
    : `${flag} must be a whole number of requests ≥ ${min}, not "${value}"`;
}

/** `--model shipped` or a model file; throws DifficultyModelError. */
function loadModel(spec: string): DifficultyModel {
  return spec === 'shipped' ? shippedDifficultyModel() : loadDifficultyModel(spec);
}

export function runRouter(argv: string[], io: CommandIO): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(ROUTER_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    io.err(`unknown router command "${sub}"\n\n${ROUTER_USAGE}`);
    return 2;
  }
  const command = sub as Subcommand;
  let values: RouterValues;
  try {
    ({ values } = parseArgs({
      args: expandMultiValueFlags(rest, ['--data', '--exclude']),
      options: OPTIONS,
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${ROUTER_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(ROUTER_USAGE);
    return 0;
  }
  const misplaced = Object.entries(ONLY_FOR).find(
    ([flag, commands]) =>
      values[flag as keyof RouterValues] !== undefined && !commands.includes(command),
  );
  if (misplaced) {
    io.err(
      `--${misplaced[0]} is for router ${misplaced[1].join(' and ')}, not router ${sub}\n\n${ROUTER_USAGE}`,
    );
    return 2;
  }
  const learning = command === 'replay' && values['feedback-rate'] !== undefined;
  const wrongMode = (learning ? SHARE_REPLAY_ONLY : LEARNING_REPLAY_ONLY).find(
    (flag) => command === 'replay' && values[flag] !== undefined,
  );
  if (wrongMode !== undefined) {
    io.err(
      learning
        ? `--${wrongMode} is for the strongShare replay; with --feedback-rate, replay runs the learning loop over one pass of the prompts\n\n${ROUTER_USAGE}`
        : `--${wrongMode} is for the learning replay: add --feedback-rate <0..1>\n\n${ROUTER_USAGE}`,
    );
    return 2;
  }
  const required = learning
    ? REQUIRED.replay.filter((k) => k !== 'strong-share')
    : REQUIRED[command];
  const missing = required.filter((k) => values[k] === undefined);
  if (missing.length > 0) {
    io.err(`router ${sub} needs ${missing.map((m) => `--${m}`).join(', ')}\n\n${ROUTER_USAGE}`);
    return 2;
  }
  const seed = values.seed === undefined ? DEFAULT_TRAIN_OPTIONS.seed : Number(values.seed);
  if (!Number.isSafeInteger(seed)) {
    io.err(`--seed must be an integer, not "${values.seed}"`);
    return 2;
  }
  if (values.label !== undefined && !(LABELS as readonly string[]).includes(values.label)) {
    io.err(`--label must be one of ${LABELS.join(', ')}, not "${values.label}"`);
    return 2;
  }
  const share =
    values['strong-share'] === undefined
      ? undefined
      : parseShare('--strong-share', values['strong-share']);
  const warmup = parseCount('--warmup', values.warmup ?? '500', 0);
  const window = parseCount('--window', values.window ?? '1000', 1);
  const requests =
    values.requests === undefined ? undefined : parseCount('--requests', values.requests, 1);
  const feedbackRate =
    values['feedback-rate'] === undefined
      ? undefined
      : parseShare('--feedback-rate', values['feedback-rate']);
  const evalShare = parseShare('--eval-share', values['eval-share'] ?? '0.2');
  const heldOutShare = parseShare('--held-out-share', values['held-out-share'] ?? '0.2');
  const minLabels = parseCount('--min-labels', values['min-labels'] ?? '200', 3);
  const learningWindow = parseCount('--learning-window', values['learning-window'] ?? '2000', 3);
  const retrainEvery =
    values['retrain-every'] === undefined
      ? undefined
      : parseCount('--retrain-every', values['retrain-every'], 1);
  const flagError = [
    share,
    warmup,
    window,
    requests,
    feedbackRate,
    evalShare,
    heldOutShare,
    minLabels,
    learningWindow,
    retrainEvery,
  ].find((x) => typeof x === 'string');
  if (flagError !== undefined) {
    io.err(flagError);
    return 2;
  }

  if (values.features !== undefined && values.features !== 'v1' && values.features !== 'v2') {
    io.err(`--features must be v2 or v1, not "${values.features}"`);
    return 2;
  }

  let loaded;
  try {
    loaded = loadExamples(
      csvFiles(values.data ?? []),
      { weak: values.weak as string, strong: values.strong as string },
      values.exclude ?? [],
    );
  } catch (err) {
    io.err(`router ${sub}: ${(err as Error).message}`);
    return 1;
  }
  const { examples, excluded } = loaded;
  if (examples.length === 0) {
    io.err(`router ${sub}: no prompts left to use (${excluded} excluded)`);
    return 1;
  }

  if (command === 'train') {
    const options = {
      seed,
      name: values.name ?? 'difficulty',
      ...(values.label ? { label: values.label as LabelKind } : {}),
    };
    const model =
      values.features === 'v1'
        ? trainDifficultyModel(examples, options)
        : trainDifficultyModelV2(examples, options);
    const text = serializeModel(model);
    writeFileSync(values.out as string, text);
    io.err(
      `trained ${model.name} on ${examples.length} prompts (${excluded} excluded): ${values.out} (${text.length} bytes)`,
    );
    return 0;
  }

  if (learning) {
    if ((evalShare as number) <= 0 || (evalShare as number) >= 1) {
      io.err(
        `--eval-share must be above 0 and below 1 (a part to measure on and one to label), not ${evalShare}`,
      );
      return 2;
    }
    if ((heldOutShare as number) <= 0 || (heldOutShare as number) >= 1) {
      io.err(`--held-out-share must be above 0 and below 1, not ${heldOutShare}`);
      return 2;
    }
    const prior = readModelFileV2(values.model as string);
    if (typeof prior === 'string') {
      io.err(prior);
      return 1;
    }
    return learningReplayCommand(io, prior, examples, {
      feedbackRate: feedbackRate as number,
      evalShare: evalShare as number,
      seed,
      minLabels: minLabels as number,
      window: learningWindow as number,
      heldOutShare: heldOutShare as number,
      retrainEvery: retrainEvery as number | undefined,
      excluded,
      json: values.json === true,
    });
  }

  let model: DifficultyModel;
  try {
    model = loadModel(values.model as string);
  } catch (err) {
    if (err instanceof DifficultyModelError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
  if (command === 'replay')
    return replayCommand(io, model, examples, {
      targetStrongShare: share as number,
      seed,
      warmup: warmup as number,
      window: window as number,
      requests: requests as number | undefined,
      excluded,
      json: values.json === true,
    });
  const scores = Float64Array.from(examples, (e) => model.score(e.prompt));
  if (values['scores-out'] !== undefined) {
    const written = writeScores(values['scores-out'], scores, examples);
    if (written !== undefined) {
      io.err(`router eval: ${written}`);
      return 1;
    }
  }
  const m = routerMetrics(scores, examples);
  const random = randomRouterMetrics(examples, seededRandom(seed), 20);
  const report = {
    model: model.name,
    n: m.n,
    excluded,
    weak_quality: round(m.weakQuality),
    strong_quality: round(m.strongQuality),
    apgr: round(m.apgr),
    cpt50: round(m.cpt50),
    cpt80: round(m.cpt80),
    strong_share_for_95: round(m.strongShareFor95),
    ...(share === undefined
      ? {}
      : {
          strong_share: share as number,
          threshold: round(strongShareThreshold(share as number)),
          realized_strong_share: round(
            realizedShare(scores, strongShareThreshold(share as number)),
          ),
        }),
    random: {
      apgr: round(random.apgr),
      cpt50: round(random.cpt50),
      cpt80: round(random.cpt80),
      strong_share_for_95: round(random.strongShareFor95),
    },
    curve: m.curve.map((p) => ({
      threshold: round(p.threshold),
      strong_share: round(p.strongShare),
      quality: round(p.quality),
    })),
  };
  if (values.json) io.out(JSON.stringify(report));
  else {
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
    io.out(
      `${report.model} on ${report.n} prompts (${excluded} excluded): weak ${report.weak_quality}, strong ${report.strong_quality}`,
    );
    io.out(
      `APGR ${report.apgr} (random ${report.random.apgr}); CPT(50%) ${pct(m.cpt50)}, CPT(80%) ${pct(m.cpt80)}; 95% of strong quality at ${pct(m.strongShareFor95)} strong calls`,
    );
    if (report.realized_strong_share !== undefined)
      io.out(
        `strongShare ${pct(report.strong_share ?? null)} → threshold ${report.threshold} → ${pct(report.realized_strong_share)} of these prompts go strong`,
      );
  }
  return 0;
}

function realizedShare(scores: Float64Array, threshold: number): number | null {
  if (scores.length === 0) return null;
  let strong = 0;
  for (const s of scores) if (s >= threshold) strong++;
  return strong / scores.length;
}

/** One JSON line per prompt; an error message if the file cannot be written. */
function writeScores(
  file: string,
  scores: Float64Array,
  examples: readonly Example[],
): string | undefined {
  const lines = examples.map((e, i) =>
    JSON.stringify({ score: scores[i] as number, weak: e.weak, strong: e.strong }),
  );
  try {
    writeFileSync(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    return undefined;
  } catch (err) {
    return `cannot write --scores-out ${file}: ${(err as Error).message}`;
  }
}
