// Apply-to-programmed spans from injected clock readings: never negative, even
// when a proxy installs the change before the bench reads the write's answer.
import { seededRandom } from '../routing/random.js';
import { changeSpans } from './change-timing.js';

const ms = (n: number): bigint => BigInt(Math.round(n * 1e6));

test('the answer before the installs: the clock starts at the answer', () => {
  const spans = changeSpans({
    sentNs: ms(100),
    answeredNs: ms(103),
    installedNs: [ms(110), ms(120), ms(115)],
    statusNs: ms(130),
  });
  expect(spans).toEqual({
    acceptedNs: ms(103),
    firstProxyUs: 7_000,
    lastProxyUs: 17_000,
    statusUs: 27_000,
    writeUs: 3_000,
    answeredAfterInstall: false,
  });
});

test('a proxy installs before the answer is read: the clock starts at that install, nothing is negative', () => {
  // What the old computation (answer to install) made -2 ms and +5 ms.
  const spans = changeSpans({
    sentNs: ms(100),
    answeredNs: ms(112),
    installedNs: [ms(110), ms(117)],
    statusNs: ms(125),
  });
  expect(spans).toEqual({
    acceptedNs: ms(110),
    firstProxyUs: 0,
    lastProxyUs: 7_000,
    statusUs: 15_000,
    writeUs: 12_000,
    answeredAfterInstall: true,
  });
});

test('readings that cannot come from one clock and one change are refused, saying which', () => {
  expect(() =>
    changeSpans({ sentNs: ms(100), answeredNs: ms(99), installedNs: [ms(101)] }),
  ).toThrow(/answer .* precedes its sending .*different clocks/);
  expect(() =>
    changeSpans({ sentNs: ms(100), answeredNs: ms(101), installedNs: [ms(99)] }),
  ).toThrow(/before the write was sent .*not this change/);
  expect(() => changeSpans({ sentNs: ms(100), answeredNs: ms(101), installedNs: [] })).toThrow(
    /at least one proxy/,
  );
});

test('for any order of answer, installs and status after the send, every span is >= 0 and last >= first', () => {
  const rng = seededRandom(12);
  for (let i = 0; i < 5_000; i++) {
    const sent = 1_000_000 + rng() * 1e6;
    // The API server accepts somewhere after the send; the answer and each
    // install come after the acceptance, in any order among themselves.
    const accepted = sent + rng() * 50;
    const answered = accepted + rng() * 50;
    const installs = Array.from({ length: 1 + Math.floor(rng() * 10) }, () =>
      ms(accepted + rng() * 80),
    );
    const latest = installs.reduce((a, b) => (b > a ? b : a));
    const status = (latest > ms(answered) ? latest : ms(answered)) + ms(rng() * 20);
    const spans = changeSpans({
      sentNs: ms(sent),
      answeredNs: ms(answered),
      installedNs: installs,
      statusNs: status,
    });
    expect(spans.firstProxyUs).toBeGreaterThanOrEqual(0);
    expect(spans.lastProxyUs).toBeGreaterThanOrEqual(spans.firstProxyUs);
    expect(spans.statusUs).toBeGreaterThanOrEqual(0);
    expect(spans.writeUs).toBeGreaterThanOrEqual(0);
    // Never later than the true acceptance could be: the clock does not start late.
    expect(spans.acceptedNs).toBeLessThanOrEqual(ms(answered));
    expect(spans.acceptedNs).toBeGreaterThanOrEqual(ms(sent));
  }
});
