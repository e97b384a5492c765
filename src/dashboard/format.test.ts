// The page's number formats (assets/format.js, loaded as it is by the browser).
import { formatCount, formatMs, formatPercent, formatUSD } from './assets/format.js';

describe('dashboard number formats', () => {
  it.each([
    [0, '$0.00'],
    [1, '$1.00'],
    [1234.56, '$1,234.56'],
    [1234.567, '$1,234.57'],
    [1_234_567.891, '$1,234,567.89'],
    [0.5, '$0.50'],
    [0.04, '$0.04'],
    [0.0123, '$0.0123'],
    [0.012345, '$0.0123'],
    [0.000123, '$0.000123'],
    [0.9949, '$0.995'],
    [0.999, '$1.00'],
    [-12.5, '-$12.50'],
    [Number.NaN, '—'],
  ])('money %p → %s', (value, text) => {
    expect(formatUSD(value)).toBe(text);
  });

  it('writes counts, percentages and latencies', () => {
    expect(formatCount(24042)).toBe('24,042');
    expect(formatPercent(0.5069836)).toBe('50.7%');
    expect(formatPercent(1.25)).toBe('125.0%');
    expect(formatMs(390.4)).toBe('390 ms');
    expect(formatMs(4210)).toBe('4.21 s');
    expect(formatMs(undefined)).toBe('—');
  });
});
