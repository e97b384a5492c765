import { WEEKDAYS, timeWindow, type TimeWindow } from '../api/v1alpha1/index.js';
import { seededRandom } from './random.js';
import { isKnownTimeZone, localTime, prepareTimeWindow, timeWindowHolds } from './time-window.js';

const holds = (w: Partial<TimeWindow> & Pick<TimeWindow, 'start' | 'end'>, iso: string) =>
  timeWindowHolds(prepareTimeWindow(timeWindow.parse(w)), Date.parse(iso));

const referenceFormats = new Map<string, Intl.DateTimeFormat>();
function referenceFormat(timeZone: string): Intl.DateTimeFormat {
  let format = referenceFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    referenceFormats.set(timeZone, format);
  }
  return format;
}

/**
 * The reference: the local calendar date and clock time from Intl's numeric
 * fields, the weekday from that date by plain UTC arithmetic, and the window
 * as an interval of local minutes opened on the listed day or the day before.
 */
function referenceHolds(w: TimeWindow, ms: number): boolean {
  const parts = Object.fromEntries(
    referenceFormat(w.timeZone)
      .formatToParts(ms)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0 } = parts;
  const localMinute = Date.UTC(year, month - 1, day, hour, minute) / 60_000;
  const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
  const start = toMinutes(w.start);
  let end = toMinutes(w.end);
  if (end <= start) end += 24 * 60;
  const days = w.days ?? WEEKDAYS;
  for (const back of [0, 1]) {
    const midnight = Date.UTC(year, month - 1, day - back);
    const weekday = WEEKDAYS[(new Date(midnight).getUTCDay() + 6) % 7] ?? 'Mon';
    const opens = midnight / 60_000 + start;
    const closes = midnight / 60_000 + end;
    if (days.includes(weekday) && localMinute >= opens && localMinute < closes) return true;
  }
  return false;
}

describe('time windows', () => {
  test('a weekday window in its zone, start inclusive and end exclusive', () => {
    const w = { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] as const, start: '09:00', end: '17:00' };
    const berlin = { ...w, days: [...w.days], timeZone: 'Europe/Berlin' };
    // 2026-12-03 is a Thursday; Berlin is UTC+1 in December.
    expect(holds(berlin, '2026-12-03T08:00:00Z')).toBe(true); // 09:00 local
    expect(holds(berlin, '2026-12-03T07:59:00Z')).toBe(false);
    expect(holds(berlin, '2026-12-03T16:00:00Z')).toBe(false); // 17:00 local
    expect(holds(berlin, '2026-12-05T10:00:00Z')).toBe(false); // Saturday
    // The same instant in UTC is outside the UTC window.
    expect(holds({ ...berlin, timeZone: 'UTC' }, '2026-12-03T08:30:00Z')).toBe(false);
  });

  test('a window crossing midnight belongs to the day it opens', () => {
    const fridayNight = { days: ['Fri' as const], start: '22:00', end: '06:00' };
    expect(holds(fridayNight, '2026-12-04T23:00:00Z')).toBe(true); // Fri 23:00
    expect(holds(fridayNight, '2026-12-05T05:59:00Z')).toBe(true); // Sat 05:59
    expect(holds(fridayNight, '2026-12-05T06:00:00Z')).toBe(false);
    expect(holds(fridayNight, '2026-12-04T02:00:00Z')).toBe(false); // Fri early: Thursday's night
    expect(holds({ start: '00:00', end: '00:00' }, '2026-12-04T13:37:00Z')).toBe(true);
  });

  test('across DST: skipped local times never occur, repeated ones hold twice', () => {
    const ny = { start: '01:00', end: '02:00', timeZone: 'America/New_York' };
    // 2026-11-01: 01:00–02:00 EDT (05:00–06:00Z) then 01:00–02:00 EST (06:00–07:00Z).
    expect(holds(ny, '2026-11-01T05:30:00Z')).toBe(true);
    expect(holds(ny, '2026-11-01T06:30:00Z')).toBe(true);
    expect(holds(ny, '2026-11-01T07:30:00Z')).toBe(false);
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:00–03:00 is never local time.
    const gap = { start: '02:00', end: '03:00', timeZone: 'America/New_York' };
    for (
      let ms = Date.parse('2026-03-08T05:00:00Z');
      ms < Date.parse('2026-03-08T09:00:00Z');
      ms += 60_000
    )
      expect(timeWindowHolds(prepareTimeWindow(timeWindow.parse(gap)), ms)).toBe(false);
    expect(holds(gap, '2026-03-09T06:30:00Z')).toBe(true); // 02:30 EDT the next day
  });

  test('unknown zones are told apart and never hold', () => {
    expect(isKnownTimeZone('America/New_York')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(localTime(0, 'Mars/Olympus_Mons')).toBeUndefined();
    expect(
      holds(
        { start: '00:00', end: '00:00', timeZone: 'Mars/Olympus_Mons' },
        '2026-12-04T13:00:00Z',
      ),
    ).toBe(false);
  });

  // Zones with whole-hour, half-hour (Lord Howe shifts by 30 min) and 45-minute
  // offsets, both hemispheres' DST, and none.
  const ZONES = [
    'UTC',
    'America/New_York',
    'Europe/Berlin',
    'America/Sao_Paulo',
    'Australia/Lord_Howe',
    'Asia/Kolkata',
    'Pacific/Chatham',
    'America/St_Johns',
  ];
  // Nights around DST changes and midnights, where a wrong offset or day shows.
  const ANCHORS = [
    '2026-03-08T07:00:00Z', // US spring forward
    '2026-11-01T06:00:00Z', // US fall back
    '2026-03-29T01:00:00Z', // EU spring forward
    '2026-10-25T01:00:00Z', // EU fall back
    '2026-04-05T15:00:00Z', // Lord Howe / Chatham (southern autumn)
    '2026-10-04T15:00:00Z', // southern spring
    '2026-12-31T23:30:00Z', // year end
    '2028-02-29T12:00:00Z', // leap day
  ].map(Date.parse);

  test('property: agrees with the reference for 20,000 seeded windows and instants', () => {
    const rng = seededRandom(14);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
    const hhmm = () => {
      const minutes = Math.floor(rng() * 96) * 15 + (rng() < 0.2 ? Math.floor(rng() * 15) : 0);
      return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
    };
    let held = 0;
    for (let i = 0; i < 20_000; i++) {
      const window = timeWindow.parse({
        days: rng() < 0.3 ? undefined : WEEKDAYS.filter(() => rng() < 0.5),
        start: hhmm(),
        end: hhmm(),
        timeZone: pick(ZONES),
      });
      const ms = pick(ANCHORS) + Math.floor((rng() - 0.5) * 3 * 86_400_000);
      const got = timeWindowHolds(prepareTimeWindow(window), ms);
      if (got !== referenceHolds(window, ms))
        throw new Error(`disagrees at ${new Date(ms).toISOString()} for ${JSON.stringify(window)}`);
      if (got) held++;
    }
    // Both outcomes occur often, so the agreement is not about one constant answer.
    expect(held).toBeGreaterThan(4_000);
    expect(held).toBeLessThan(16_000);
  });

  test('property: minute by minute through DST nights (the per-minute cache)', () => {
    const rng = seededRandom(7);
    for (const anchor of ANCHORS.slice(0, 6)) {
      const window = timeWindow.parse({
        start: '01:30',
        end: '02:30',
        timeZone: ZONES[Math.floor(rng() * ZONES.length)],
      });
      const prepared = prepareTimeWindow(window);
      for (
        let ms = anchor - 6 * 3_600_000;
        ms < anchor + 6 * 3_600_000;
        ms += 20_000 + Math.floor(rng() * 20_000)
      ) {
        if (timeWindowHolds(prepared, ms) !== referenceHolds(window, ms))
          throw new Error(
            `disagrees at ${new Date(ms).toISOString()} for ${JSON.stringify(window)}`,
          );
      }
    }
  });
});
