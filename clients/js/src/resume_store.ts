// What survives a page reload so an upload can carry on where it stopped: the upload's
// ids and presigned URLs, kept in a Storage (localStorage) under a key naming the file.
// Which parts arrived is not kept: the server's list-parts answer is the truth, and a
// record of ours could claim a part whose PUT never finished. Storage failures (quota,
// private mode, blocked cookies) cost the resume, never the upload, so every access here
// is best effort.

import type { ResumeStorage } from './types.js';

export interface ResumeState {
  fileId: string;
  uploadId: string;
  filetype: string;
  chunkSize: number;
  parts: { PartNumber: number; PresignedUrl: string }[];
  /** RFC 3339, for people reading the storage. */
  createdAt: string;
}

// A URL this close to expiry is not worth resuming with: parts PUT with it would fail.
export const kUrlExpiryMarginMs = 5 * 60 * 1000;

/** Names one file to one API: the same file picked again after a reload maps to the same
 *  key; an edited file (size or mtime) does not. */
export function resumeKey(baseUrl: string, file: { name?: string; size: number; lastModified?: number }): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `audiodrop:v1:${base}|${file.name ?? ''}|${file.size}|${file.lastModified ?? 0}`;
}

/** The storage `resume` asks for: true (the default) means localStorage where there is
 *  one. Touching localStorage can throw (sandboxed frames, blocked cookies). */
export function resumeStorageFor(resume: boolean | ResumeStorage | undefined): ResumeStorage | undefined {
  if (resume === false) return undefined;
  if (resume !== undefined && resume !== true) return resume;
  try {
    const ls = (globalThis as { localStorage?: ResumeStorage }).localStorage;
    return ls ?? undefined;
  } catch {
    return undefined;
  }
}

export class ResumeStore {
  private readonly storage_: ResumeStorage | undefined;
  readonly key: string;

  constructor(storage: ResumeStorage | undefined, key: string) {
    this.storage_ = storage;
    this.key = key;
  }

  /** The stored state; undefined when there is none or it is unreadable (then it is
   *  removed). */
  load(): ResumeState | undefined {
    let raw: string | null = null;
    try {
      raw = this.storage_?.getItem(this.key) ?? null;
    } catch {
      return undefined;
    }
    if (raw === null) return undefined;
    const state = parseResumeState(raw);
    if (!state) this.forget();
    return state;
  }

  save(state: ResumeState): void {
    try {
      this.storage_?.setItem(this.key, JSON.stringify(state));
    } catch {
      // Over quota or refused: this upload simply cannot be resumed.
    }
  }

  forget(): void {
    try {
      this.storage_?.removeItem(this.key);
    } catch {
      // Nothing better to do; a stale entry is detected and dropped when next read.
    }
  }
}

export function parseResumeState(raw: string): ResumeState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const ok = typeof s.fileId === 'string' && s.fileId !== '' &&
    typeof s.uploadId === 'string' && s.uploadId !== '' &&
    typeof s.filetype === 'string' &&
    Number.isSafeInteger(s.chunkSize) && (s.chunkSize as number) > 0 &&
    Array.isArray(s.parts) && s.parts.length > 0 &&
    s.parts.every((p: unknown, i: number) => {
      const q = p as Record<string, unknown> | null;
      return typeof q === 'object' && q !== null && q.PartNumber === i + 1 &&
        typeof q.PresignedUrl === 'string';
    });
  if (!ok) return undefined;
  return {
    fileId: s.fileId as string,
    uploadId: s.uploadId as string,
    filetype: s.filetype as string,
    chunkSize: s.chunkSize as number,
    parts: (s.parts as ResumeState['parts']).map((p) => ({ PartNumber: p.PartNumber, PresignedUrl: p.PresignedUrl })),
    createdAt: typeof s.createdAt === 'string' ? s.createdAt : '',
  };
}

/** When a SigV4 presigned URL stops working (X-Amz-Date + X-Amz-Expires), in ms since
 *  the epoch; undefined when the URL does not say. */
export function presignedUrlExpiry(url: string): number | undefined {
  let q: URLSearchParams;
  try {
    q = new URL(url).searchParams;
  } catch {
    return undefined;
  }
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '');
  const expires = q.get('X-Amz-Expires') ?? '';
  if (!date || !/^\d+$/.test(expires)) return undefined;
  const [, y, mo, d, h, mi, s] = date.map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s) + Number(expires) * 1000;
}

/** Whether the stored URLs still have at least the margin to run. */
export function urlsStillValid(state: ResumeState, nowMs: number, marginMs = kUrlExpiryMarginMs): boolean {
  return state.parts.every((p) => {
    const until = presignedUrlExpiry(p.PresignedUrl);
    return until === undefined || until - marginMs > nowMs;
  });
}
