// Reads whole upstream bodies, with a size limit.
import type { Readable } from 'node:stream';

export async function readText(body: Readable, limit: number): Promise<string> {
  return (await readBuffer(body, limit)).toString('utf8');
}

/**
 * Reads a whole upstream body. Plain 'data'/'end' events: an async iterator
 * over the stream costs a promise per chunk and showed up in CPU profiles.
 */
export function readBuffer(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        body.destroy();
        reject(new Error(`response larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    // Destroyed without an error (e.g. aborted quietly): no 'end' will come.
    const onClose = (): void => onError(new Error('response body closed before its end'));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
