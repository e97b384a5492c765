// Format-2 model files as the controller would push them for a learning rule:
// the shipped model with its bias moved (so every prompt scores harder or
// easier than the prior says), checksummed like a real file.
import { readFileSync } from 'node:fs';
import { SHIPPED_MODEL_URL } from '../../../routing/difficulty/learned/index.js';
import {
  difficultyModelFileV2,
  modelChecksum,
  type DifficultyModelFileV2,
} from '../../../routing/difficulty/learned/model.js';

export function shiftedModelFile(name: string, biasShift: number): DifficultyModelFileV2 {
  const shipped = difficultyModelFileV2.parse(JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')));
  const { checksum: _old, ...rest } = { ...shipped, name, bias: shipped.bias + biasShift };
  return { ...rest, checksum: modelChecksum(rest) };
}

/** A file that passes the table's schema but not the proxy's load check (its checksum is wrong). */
export function corruptModelFile(name: string): DifficultyModelFileV2 {
  return { ...shiftedModelFile(name, 0), bias: 123 };
}
