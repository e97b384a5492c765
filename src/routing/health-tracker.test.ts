import { BackendHealthTracker } from './health-tracker.js';

const thresholds = { unhealthyThreshold: 3, healthyThreshold: 2 };

describe('BackendHealthTracker', () => {
  let t = 0;
  const tracker = () => new BackendHealthTracker(() => t);

  test('starts Unknown and becomes Healthy on the first success', () => {
    const h = tracker();
    expect(h.get('b').state).toBe('Unknown');
    expect(h.observe('b', true, thresholds)).toMatchObject({ from: 'Unknown', to: 'Healthy' });
  });

  test('goes Unhealthy only after unhealthyThreshold failures in a row', () => {
    const h = tracker();
    h.observe('b', true, thresholds);
    expect(h.observe('b', false, thresholds)).toBeUndefined();
    expect(h.observe('b', false, thresholds)).toBeUndefined();
    h.observe('b', true, thresholds); // a success resets the run
    h.observe('b', false, thresholds);
    h.observe('b', false, thresholds);
    t = 1234;
    expect(h.observe('b', false, thresholds, 'HTTP 500')).toMatchObject({
      from: 'Healthy',
      to: 'Unhealthy',
      record: { consecutiveFailures: 3, lastTransitionTime: 1234, message: 'HTTP 500' },
    });
  });

  test('comes back only after healthyThreshold successes in a row', () => {
    const h = tracker();
    for (let i = 0; i < 3; i++) h.observe('b', false, thresholds);
    expect(h.get('b').state).toBe('Unhealthy');
    expect(h.observe('b', true, thresholds)).toBeUndefined();
    expect(h.observe('b', true, thresholds)).toMatchObject({ from: 'Unhealthy', to: 'Healthy' });
  });

  test('retain forgets removed backends; states lists the rest', () => {
    const h = tracker();
    h.observe('a', true, thresholds);
    h.observe('b', true, thresholds);
    h.retain(['b']);
    expect([...h.states()]).toEqual([['b', 'Healthy']]);
  });
});
