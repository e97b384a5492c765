// Types of format.js (plain JS the browser loads as it is) for the tests that import it.
export function formatUSD(value: number): string;
export function formatCount(value: number): string;
export function formatPercent(fraction: number): string;
export function formatMs(ms: number | undefined): string;
