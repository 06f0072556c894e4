// Which bytes go in which part. API: every part but the last is exactly ChunkSize, the
// last holds the rest (invalid_part_size otherwise).

const kMiB = 1024 * 1024;
export const kBaseChunkSize = 5 * kMiB;
// S3: at most 10,000 parts in a multipart upload.
export const kMaxParts = 10_000;

export interface PartRange {
  partNumber: number;
  start: number;
  /** Exclusive, as Blob.slice takes it. */
  end: number;
}

/** The ChunkSize the server picks for `size` bytes: 5 MiB, grown by whole MiB until the
 *  parts number at most 10,000. For callers that must know it before asking (Uppy); the
 *  answer of generate-presigned-urls is what counts. */
export function chunkSizeFor(size: number): number {
  if (Math.ceil(size / kBaseChunkSize) <= kMaxParts) return kBaseChunkSize;
  return Math.ceil(Math.ceil(size / kMaxParts) / kMiB) * kMiB;
}

/** Parts 1..N covering `size` bytes; none for 0 bytes. */
export function planParts(size: number, chunkSize: number): PartRange[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`bad ChunkSize ${chunkSize}`);
  const parts: PartRange[] = [];
  for (let start = 0, n = 1; start < size; start += chunkSize, n++) {
    parts.push({ partNumber: n, start, end: Math.min(start + chunkSize, size) });
  }
  return parts;
}
