// MD5 of a Blob read one slice at a time, so a multi-gigabyte file never sits in memory:
// what file_md5 and each part's ETag are compared with.

import { createMD5 } from 'hash-wasm';
import { throwIfAborted } from './errors.js';

export const kMd5SliceBytes = 4 * 1024 * 1024;

export async function md5Hex(blob: Blob, opts: { signal?: AbortSignal; sliceBytes?: number } = {}): Promise<string> {
  const { signal } = opts;
  const sliceBytes = Math.max(1, Math.floor(opts.sliceBytes ?? kMd5SliceBytes));
  throwIfAborted(signal);
  const hasher = await createMD5();
  hasher.init();
  for (let at = 0; at < blob.size; at += sliceBytes) {
    throwIfAborted(signal);
    const bytes = await blob.slice(at, Math.min(at + sliceBytes, blob.size)).arrayBuffer();
    throwIfAborted(signal);
    hasher.update(new Uint8Array(bytes));
  }
  return hasher.digest('hex');
}

/** md5Hex started now and awaited once the parts are sent, so that hashing overlaps them:
 *  a failure (or the signal's abort) before then is not an unhandled rejection, and the
 *  awaiter still sees it. */
export function md5InBackground(blob: Blob, signal: AbortSignal): Promise<string> {
  const digest = md5Hex(blob, { signal });
  digest.catch(() => undefined);
  return digest;
}

/** An ETag as S3 quotes it ("\"<hex>\"", maybe weak) reduced to its lowercase hex. */
export function etagHex(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
}
