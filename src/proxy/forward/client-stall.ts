// A buffered answer handed to a client that does not read it would sit in
// the proxy's memory (up to the 64 MB response limit) for as long as the
// socket stays open: Node's server has no write timeout. Cut such a client
// off once it has taken no bytes for the stall limit.
import type { ServerResponse } from 'node:http';

/** Destroys `res` if its socket's queue does not shrink for `stallMs`, until the answer is out. */
export function cutOffIfStalled(res: ServerResponse, stallMs: number): void {
  if (res.writableFinished) return;
  const socket = res.socket;
  if (!socket) return;
  // Progress is the socket's queue shrinking (bytesWritten counts queued bytes too).
  let queued = socket.writableLength;
  const check = (): void => {
    if (res.writableFinished || res.destroyed) return;
    if (socket.writableLength >= queued) {
      res.destroy();
      return;
    }
    queued = socket.writableLength;
    timer.refresh();
  };
  const timer = setTimeout(check, stallMs);
  const stop = (): void => clearTimeout(timer);
  res.once('finish', stop);
  res.once('close', stop);
}
