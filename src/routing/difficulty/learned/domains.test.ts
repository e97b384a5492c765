import { readdirSync, existsSync } from 'node:fs';
import type { Example } from './dataset.js';
import { DOMAINS, byDomain, domainOf, leaveOneDomainOut } from './domains.js';

const DATA = new URL('../../../../../shared/data/routellm/mmlu/', import.meta.url).pathname;
const ex = (group: string, i = 0): Example => ({
  prompt: `${group} ${i}`,
  weak: 0,
  strong: 1,
  group,
});

describe('domainOf', () => {
  it('puts every MMLU subject of the shared data in one of the four categories', () => {
    if (!existsSync(DATA)) return; // the data is outside the repository; CI may not have it
    const subjects = readdirSync(DATA).filter((f) => f.endsWith('.csv'));
    expect(subjects.length).toBe(57);
    for (const f of subjects) expect(domainOf(f.replace(/\.csv$/, ''))).not.toBe('unknown');
  });

  it('knows GSM8K and says unknown for anything else', () => {
    expect(domainOf('gsm8k_responses')).toBe('gsm8k');
    expect(domainOf('mmlu_college_mathematics')).toBe('mmlu-stem');
    expect(domainOf('mmlu_professional_law')).toBe('mmlu-humanities');
    expect(domainOf('my_traffic')).toBe('unknown');
  });
});

describe('leaveOneDomainOut', () => {
  it('tests each domain once and never trains on it', () => {
    const examples = [
      ex('gsm8k_responses'),
      ex('mmlu_anatomy'),
      ex('mmlu_philosophy'),
      ex('mmlu_sociology'),
      ex('mmlu_virology'),
      ex('mmlu_virology', 1),
    ];
    const splits = leaveOneDomainOut(examples);
    expect(splits.map((s) => s.domain)).toEqual([...DOMAINS]);
    for (const s of splits) {
      expect(s.test.every((e) => domainOf(e.group) === s.domain)).toBe(true);
      expect(s.train.some((e) => domainOf(e.group) === s.domain)).toBe(false);
      expect(s.train.length + s.test.length).toBe(examples.length);
    }
    expect(byDomain(examples).get('mmlu-other')).toHaveLength(2);
  });

  it('refuses data with a single domain', () => {
    expect(() => leaveOneDomainOut([ex('gsm8k_responses')])).toThrow(/at least 2 domains/);
  });
});
