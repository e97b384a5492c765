import { LeaderOnly, type Runnable } from './runnable.js';

function recording(name: string, log: string[]): Runnable {
  return {
    name,
    start: () => log.push(`start ${name}`),
    stop: () => Promise.resolve(void log.push(`stop ${name}`)),
  };
}

test('every part starts on every acquisition and stops (in reverse) on every loss', async () => {
  const log: string[] = [];
  const group = new LeaderOnly().add(recording('a', log)).add(recording('b', log));
  for (let i = 0; i < 3; i++) {
    void group.startAll();
    void group.startAll(); // a repeated callback starts nothing twice
    void group.stopAll();
  }
  await group.settled();
  expect(log).toEqual(Array(3).fill(['start a', 'start b', 'stop b', 'stop a']).flat());
  expect(group.termsStarted).toBe(3);
  expect(group.active).toBe(false);
});

test('a part that throws is reported and does not keep the others from starting', async () => {
  const log: string[] = [];
  const errors: string[] = [];
  const group = new LeaderOnly({ onError: (name, phase) => errors.push(`${phase} ${name}`) })
    .add({
      name: 'bad',
      start: () => {
        throw new Error('no');
      },
      stop: () => {},
    })
    .add(recording('good', log));
  await group.startAll();
  expect(log).toEqual(['start good']);
  expect(errors).toEqual(['start bad']);
});
