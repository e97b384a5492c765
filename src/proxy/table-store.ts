// Holds the routing table the proxy serves. A new table replaces the current
// one only after it validates; the last good table is persisted to disk and
// loaded again at start, so a restarted proxy serves at once.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { prepareTable, type PreparedTable } from '../routing/prepared-table.js';
import { parseRoutingTable, type RoutingTable } from '../routing/table.js';

export type TableUpdate =
  { ok: true; version: string; changed: boolean } | { ok: false; error: string };

export class TableStore {
  private current: PreparedTable | undefined;
  private readonly listeners: ((table: PreparedTable) => void)[] = [];

  constructor(private readonly persistPath?: string) {}

  get prepared(): PreparedTable | undefined {
    return this.current;
  }

  get version(): string | undefined {
    return this.current?.table.version;
  }

  onChange(listener: (table: PreparedTable) => void): void {
    this.listeners.push(listener);
  }

  /** Validates an untrusted table and, if good, makes it current and persists it. */
  update(input: unknown): TableUpdate {
    const parsed = parseRoutingTable(input);
    if (!parsed.ok) return { ok: false, error: parsed.error };
    return this.install(parsed.table, parsed.received);
  }

  /** `received`: the table as sent, to persist (its version hashes keys this proxy ignored too). */
  private install(table: RoutingTable, received: object | undefined): TableUpdate {
    if (this.current?.table.version === table.version)
      return { ok: true, version: table.version, changed: false };
    let prepared: PreparedTable;
    try {
      prepared = prepareTable(table);
    } catch (err) {
      return { ok: false, error: `routing table cannot be prepared: ${(err as Error).message}` };
    }
    if (received && this.persistPath) this.persist(received);
    this.current = prepared;
    for (const listener of this.listeners) listener(prepared);
    return { ok: true, version: table.version, changed: true };
  }

  private persist(table: object): void {
    const path = this.persistPath as string;
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(table));
    renameSync(tmp, path);
  }

  /** Loads the persisted table, if any. A missing file is fine; a bad one is reported and ignored. */
  loadPersisted(): TableUpdate | undefined {
    if (!this.persistPath) return undefined;
    let text: string;
    try {
      text = readFileSync(this.persistPath, 'utf8');
    } catch {
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return {
        ok: false,
        error: `persisted table ${this.persistPath} is not JSON: ${(err as Error).message}`,
      };
    }
    const parsed = parseRoutingTable(json);
    if (!parsed.ok)
      return { ok: false, error: `persisted table ${this.persistPath}: ${parsed.error}` };
    return this.install(parsed.table, undefined);
  }
}
