// The shared bearer token that guards the admin API, compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface AdminTokenSource {
  /** File holding the token (e.g. a mounted Secret); read at start. */
  file?: string | undefined;
  /** The token itself (from the environment). */
  value?: string | undefined;
}

export class AdminToken {
  private readonly digest: Buffer;
  /** True when no token was configured and a random one was made (nobody can push). */
  readonly generated: boolean;

  constructor(source: AdminTokenSource) {
    let token = source.value;
    if (source.file) {
      try {
        token = readFileSync(source.file, 'utf8').trim();
      } catch (err) {
        throw new Error(
          `cannot read the admin token file ${source.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        );
      }
      if (!token) throw new Error(`the admin token file ${source.file} is empty`);
    }
    this.generated = !token;
    this.digest = sha256(token || randomBytes(32).toString('hex'));
  }

  /** Checks an Authorization header value ("Bearer <token>"). */
  accepts(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return false;
    // Hashing first makes the comparison length-independent as well as constant-time.
    return timingSafeEqual(sha256(match[1].trim()), this.digest);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
