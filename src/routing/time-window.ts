// Time windows of route matches (matches.timeWindows, issue 14): "Mon–Fri
// 09:00–17:00 in Europe/Berlin" evaluated at the request's arrival time. The
// local weekday and time of day come from Intl in the window's IANA zone, so
// daylight saving time is the zone's own.
import { WEEKDAYS, type TimeWindow } from '../api/v1alpha1/index.js';

const MINUTE_MS = 60_000;

/** A local weekday (0 = Mon .. 6 = Sun, as WEEKDAYS) and minutes since local midnight. */
export interface LocalTime {
  weekday: number;
  minutes: number;
}

const WEEKDAY_INDEX: ReadonlyMap<string, number> = new Map(WEEKDAYS.map((d, i) => [d, i]));

/** True when Intl knows the IANA zone (e.g. "America/New_York"); "UTC" always. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads local weekday and time of day in one zone. Formatters are built once
 * per zone (construction costs tens of microseconds, and this runs per
 * request), and the last answer is kept for its UTC minute: every zone in use
 * today is offset from UTC by whole minutes, so all instants of one UTC
 * minute share one local minute.
 */
class ZoneClock {
  private readonly format: Intl.DateTimeFormat;
  private cachedMinute = Number.NaN;
  private cached: LocalTime = { weekday: 0, minutes: 0 };

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
    });
  }

  at(ms: number): LocalTime {
    const minute = Math.floor(ms / MINUTE_MS);
    if (minute === this.cachedMinute) return this.cached;
    let weekday = 0;
    let hour = 0;
    let min = 0;
    for (const part of this.format.formatToParts(ms)) {
      if (part.type === 'weekday') weekday = WEEKDAY_INDEX.get(part.value) ?? 0;
      else if (part.type === 'hour') hour = Number(part.value) % 24;
      else if (part.type === 'minute') min = Number(part.value);
    }
    this.cachedMinute = minute;
    this.cached = { weekday, minutes: hour * 60 + min };
    return this.cached;
  }
}

const clocks = new Map<string, ZoneClock | null>();

/** Local time at `ms` in `timeZone`, or undefined for a zone Intl does not know. */
export function localTime(ms: number, timeZone: string): LocalTime | undefined {
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    clock = isKnownTimeZone(timeZone) ? new ZoneClock(timeZone) : null;
    clocks.set(timeZone, clock);
  }
  return clock?.at(ms);
}

function clockMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** A window ready for the hot path: times in minutes, days as a bit set. */
export interface PreparedTimeWindow {
  timeZone: string;
  start: number;
  end: number;
  /** Bit i set: the window opens on weekday i (0 = Mon). */
  days: number;
}

export function prepareTimeWindow(window: TimeWindow): PreparedTimeWindow {
  const days: readonly string[] = window.days ?? WEEKDAYS;
  return {
    timeZone: window.timeZone,
    start: clockMinutes(window.start),
    end: clockMinutes(window.end),
    days: days.reduce<number>((bits, d) => bits | (1 << (WEEKDAY_INDEX.get(d) ?? 0)), 0),
  };
}

function opensOn(window: PreparedTimeWindow, weekday: number): boolean {
  return (window.days & (1 << weekday)) !== 0;
}

/**
 * Whether the window holds at `ms`. A window opens at `start` on each of its
 * days and closes at the next `end`: when end is not after start it closes
 * the following day, so "Fri 22:00–06:00" holds early on Saturday (the night
 * that began on Friday), not early on Friday; start == end is a whole day.
 * Local times that a DST change skips never occur; those it repeats hold both
 * times. An unknown zone never holds (validation refuses it before a table
 * carries it).
 */
export function timeWindowHolds(window: PreparedTimeWindow, ms: number): boolean {
  const local = localTime(ms, window.timeZone);
  if (!local) return false;
  const { weekday, minutes } = local;
  if (window.start < window.end)
    return opensOn(window, weekday) && minutes >= window.start && minutes < window.end;
  if (minutes >= window.start) return opensOn(window, weekday);
  return minutes < window.end && opensOn(window, (weekday + 6) % 7);
}
