import { seededRandom } from '../routing/random.js';
import { decidePromotion } from './promotion.js';

const rng = seededRandom(5);
const gains = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 1 : 0));
const perfect = Float64Array.from(gains, (g, i) => g + i * 1e-6);
const noise = Float64Array.from(gains, () => rng());

test('a challenger that ranks the held-out labels clearly better is promoted, with its interval in the reason', () => {
  const d = decidePromotion({
    gains,
    champion: noise,
    challenger: perfect,
    prior: noise,
    rng: seededRandom(1),
    resamples: 300,
  });
  expect(d.promote).toBe(true);
  expect(d.heldOut).toMatchObject({
    labels: 300,
    challenger: expect.any(Number),
    prior: d.heldOut.champion,
  });
  expect(d.heldOut.difference?.lo).toBeGreaterThan(0);
  expect(d.reason).toMatch(
    /^challenger promoted: held-out APGR .* on 300 labels, difference \+\d\.\d{3} \[95% \+\d\.\d{3}, \+\d\.\d{3}\]$/,
  );
});

test('an equal or worse challenger is not promoted, and neither is any when the strong tier did not help', () => {
  const same = decidePromotion({
    gains,
    champion: perfect,
    challenger: perfect,
    prior: noise,
    rng: seededRandom(1),
    resamples: 200,
  });
  expect(same.promote).toBe(false);
  expect(same.reason).toMatch(/champion kept: .*does not lie above 0/);
  const worse = decidePromotion({
    gains,
    champion: perfect,
    challenger: noise,
    prior: noise,
    rng: seededRandom(1),
    resamples: 200,
  });
  expect(worse.promote).toBe(false);
  const none = decidePromotion({
    gains: gains.map(() => 0),
    champion: noise,
    challenger: perfect,
    prior: noise,
    rng: seededRandom(1),
  });
  expect(none).toMatchObject({ promote: false, heldOut: { champion: null, difference: null } });
  expect(none.reason).toMatch(/APGR is undefined on the 300 held-out labels/);
});
