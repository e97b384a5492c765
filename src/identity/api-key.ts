// Virtual API keys: `mr-` and 43 characters of base64url (32 random bytes).
// Only `sha256:<hex>` of the whole key is ever stored or pushed; the key is
// shown once, when it is created.
import { createHash, randomBytes } from 'node:crypto';
import { API_KEY_PREFIX } from '../api/v1alpha1/index.js';

const KEY_PATTERN = /^mr-[A-Za-z0-9_-]{43}$/;

/** A new key from 32 bytes of `random` (injectable for tests). */
export function generateApiKey(random: (n: number) => Buffer = randomBytes): string {
  return API_KEY_PREFIX + random(32).toString('base64url');
}

/** True when the bearer credential has the shape of a virtual key (not a ServiceAccount token). */
export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/** True when it has exactly the shape generateApiKey gives. */
export function isWellFormedApiKey(credential: string): boolean {
  return KEY_PATTERN.test(credential);
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** What lists show of a key: `mr-` and its next 6 characters (not enough to use it). */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 6);
}
