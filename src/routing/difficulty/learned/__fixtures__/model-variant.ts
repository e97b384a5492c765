// Another valid difficulty model for tests: the shipped one renamed and its
// bias shifted (so it scores differently), with a correct checksum.
import { readFileSync } from 'node:fs';
import { SHIPPED_MODEL_URL } from '../index.js';
import { modelChecksum, type AnyDifficultyModelFile } from '../model.js';

export function shippedModelVariant(name: string, biasShift: number): string {
  const shipped = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as AnyDifficultyModelFile;
  const model = { ...shipped, name, bias: shipped.bias + biasShift };
  return JSON.stringify({ ...model, checksum: modelChecksum(model) });
}
