// One whole upload: open it (fresh, or resumed from stored state and the server's list
// of parts), PUT the missing parts with a few workers while the file's MD5 is computed
// alongside, then complete and check the MD5 the server computed. A part moves from
// queued to in flight to stored; a failed part fails the run, which leaves the resume
// state in place (a reload or a crash looks the same); only an abort through the
// caller's signal gives the upload up on the server as well.

import { AudiodropError, abortError, throwIfAborted } from './errors.js';
import { etagHex, md5Hex, md5InBackground } from './md5.js';
import type { PartTransport } from './part_transport.js';
import { type PartRange, planParts } from './part_plan.js';
import { ProgressMeter } from './progress.js';
import { type ResumeState, ResumeStore, resumeKey, resumeStorageFor, urlsStillValid } from './resume_store.js';
import { type RetryPolicy, withRetry } from './retry.js';
import type {
  CompleteUploadRequest, CompletedUpload, PresignedUpload, ReceivedParts, UploadFile, UploadOptions,
} from './types.js';

/** The API calls an upload makes (AudiodropClient has them). */
export interface UploadCalls {
  generatePresignedUrls(filesize: number, filetype: string, signal?: AbortSignal): Promise<PresignedUpload>;
  listParts(fileId: string, uploadId: string, signal?: AbortSignal): Promise<ReceivedParts>;
  completeUpload(req: CompleteUploadRequest, signal?: AbortSignal): Promise<CompletedUpload>;
  abortUpload(fileId: string, uploadId: string, signal?: AbortSignal): Promise<void>;
}

export interface UploadDeps {
  baseUrl: string;
  calls: UploadCalls;
  transport: PartTransport;
  policy: RetryPolicy;
}

export const kDefaultConcurrency = 4;
const kMaxConcurrency = 64;
// Giving an upload up is a courtesy to the server (it frees the user's open-upload quota
// now rather than at expiry); it must not hold up the caller's rejection for long.
const kAbandonTimeoutMs = 10_000;
// list-parts answers meaning the stored upload cannot be resumed: unknown (or another
// user's), completed, aborted (409), expired (410).
const kGoneStatuses = new Set([404, 409, 410]);

interface Part extends PartRange {
  url: string;
  /** The server's ETag of a part it holds at the expected size (when resuming). */
  heldEtag?: string;
}

interface Session {
  fileId: string;
  uploadId: string;
  parts: Part[];
}

export async function runUpload(deps: UploadDeps, file: UploadFile, opts: UploadOptions = {}): Promise<CompletedUpload> {
  const userSignal = opts.signal;
  throwIfAborted(userSignal);
  const filetype = opts.filetype ?? extensionOf(file.name);
  if (!filetype) {
    throw new AudiodropError(0, 'invalid_request', 'the file name has no extension to take the filetype from; pass options.filetype');
  }
  const concurrency = workerCount(opts.concurrency);
  const store = new ResumeStore(resumeStorageFor(opts.resume), resumeKey(deps.baseUrl, file));

  // Stops everything this run started: on the caller's abort, or on the first failure.
  const stop = new AbortController();
  const onUserAbort = () => stop.abort();
  userSignal?.addEventListener('abort', onUserAbort, { once: true });
  const md5 = (opts.verifyMd5 ?? true) ? md5InBackground(file, stop.signal) : undefined;
  let session: Session | undefined;
  try {
    session = await openSession(deps, file, filetype, store, stop.signal);
    const partList = await sendParts(deps, file, session, concurrency, opts, stop);
    const fileMd5 = md5 ? await md5 : undefined;
    const done = await deps.calls.completeUpload(
      { fileId: session.fileId, uploadId: session.uploadId, parts: partList, filetype, fileMd5 }, stop.signal);
    store.forget();
    if (fileMd5 !== undefined && (done.FileMd5 ?? '').toLowerCase() !== fileMd5) {
      throw new AudiodropError(0, 'md5_mismatch',
        `the server stored ${session.fileId} with MD5 ${done.FileMd5}, the file's is ${fileMd5}`);
    }
    return done;
  } catch (e) {
    stop.abort();
    if (!userSignal?.aborted) throw e;
    // Aborted while resuming, the session is not known yet, but the stored state names it.
    const ids = session ?? store.load();
    if (ids) await abandon(deps.calls, ids);
    store.forget();
    throw abortError();
  } finally {
    userSignal?.removeEventListener('abort', onUserAbort);
  }
}

/** The stored upload if it can go on, else a fresh one (its state stored at once, before
 *  any byte is sent, so that a reload from then on can resume). */
async function openSession(deps: UploadDeps, file: UploadFile, filetype: string, store: ResumeStore,
                           signal: AbortSignal): Promise<Session> {
  const stored = store.load();
  if (stored) {
    const resumed = await resume(deps, file, filetype, stored, signal);
    if (resumed) return resumed;
    store.forget();
  }
  const plan = await deps.calls.generatePresignedUrls(file.size, filetype, signal);
  const parts = checkedParts(plan, file.size);
  store.save({
    fileId: plan.FileId,
    uploadId: plan.UploadId,
    filetype,
    chunkSize: plan.ChunkSize,
    parts: parts.map((p) => ({ PartNumber: p.partNumber, PresignedUrl: p.url })),
    createdAt: new Date().toISOString(),
  });
  return { fileId: plan.FileId, uploadId: plan.UploadId, parts };
}

/** The stored upload with the parts the server holds marked, or undefined when it cannot
 *  go on (then it is given up on the server where it may still be open). Other failures
 *  of list-parts (network, 5xx after retries) throw, and the state stays for next time. */
async function resume(deps: UploadDeps, file: UploadFile, filetype: string, stored: ResumeState,
                      signal: AbortSignal): Promise<Session | undefined> {
  const ranges = planParts(file.size, stored.chunkSize);
  if (stored.filetype !== filetype || ranges.length !== stored.parts.length ||
      !urlsStillValid(stored, Date.now())) {
    await abandon(deps.calls, stored);
    return undefined;
  }
  let received: ReceivedParts;
  try {
    received = await deps.calls.listParts(stored.fileId, stored.uploadId, signal);
  } catch (e) {
    if (e instanceof AudiodropError && kGoneStatuses.has(e.status)) return undefined;
    throw e;
  }
  if (received.ChunkSize !== stored.chunkSize || received.PartCount !== stored.parts.length) {
    await abandon(deps.calls, stored);
    return undefined;
  }
  const held = new Map<number, { ETag: string; Size: number }>();
  for (const p of received.Parts ?? []) held.set(p.PartNumber, p);
  const parts = ranges.map((r, i): Part => {
    const h = held.get(r.partNumber);
    const part: Part = { ...r, url: stored.parts[i].PresignedUrl };
    if (h && h.Size === r.end - r.start) part.heldEtag = h.ETag;
    return part;
  });
  return { fileId: stored.fileId, uploadId: stored.uploadId, parts };
}

/** The plan's parts with their byte ranges; the plan must number 1..N and cover the file
 *  in ChunkSize pieces, or the parts would be refused at complete. */
function checkedParts(plan: PresignedUpload, size: number): Part[] {
  const ranges = Number.isSafeInteger(plan.ChunkSize) && plan.ChunkSize > 0 ? planParts(size, plan.ChunkSize) : [];
  const urls = [...(plan.Parts ?? [])].sort((a, b) => a.PartNumber - b.PartNumber);
  if (ranges.length === 0 || urls.length !== ranges.length || urls.some((p, i) => p.PartNumber !== i + 1)) {
    throw new AudiodropError(0, 'invalid_plan',
      `generate-presigned-urls answered ${urls.length} parts of ChunkSize ${plan.ChunkSize} for ${size} bytes`);
  }
  return ranges.map((r, i) => ({ ...r, url: urls[i].PresignedUrl }));
}

/** PUTs every part the server lacks, `concurrency` at a time, and returns complete-upload's
 *  part list. The first failure stops the other workers and is thrown. */
async function sendParts(deps: UploadDeps, file: UploadFile, session: Session, concurrency: number,
                         opts: UploadOptions, stop: AbortController): Promise<{ PartNumber: number; ETag: string }[]> {
  const signal = stop.signal;
  const meter = new ProgressMeter(file.size, session.parts.length);
  const report = () => opts.onProgress?.(meter.snapshot());
  const etags = new Map<number, string>();

  const sendPart = async (part: Part) => {
    const n = part.partNumber;
    const size = part.end - part.start;
    const body = file.slice(part.start, part.end);
    // A part held at the right size may still hold other bytes (the file was edited
    // with its size and mtime kept); hashing the local slice is cheap next to a PUT.
    if (part.heldEtag !== undefined && etagHex(part.heldEtag) === await md5Hex(body, { signal })) {
      etags.set(n, part.heldEtag);
      meter.done(n, size, false);
      report();
      return;
    }
    const etag = await withRetry(
      () => deps.transport(part.url, body, {
        signal,
        label: `PUT part ${n}`,
        onProgress: (bytes) => {
          meter.sending(n, bytes);
          report();
        },
      }),
      deps.policy, signal, { onRetry: () => meter.failed(n) });
    etags.set(n, etag);
    meter.done(n, size);
    report();
    opts.onPartUploaded?.(n);
  };

  // Missing parts first, so the network starts at once; held parts are checked meanwhile.
  const queue = [...session.parts.filter((p) => p.heldEtag === undefined),
                 ...session.parts.filter((p) => p.heldEtag !== undefined)];
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    for (let part = queue.shift(); part && !signal.aborted; part = queue.shift()) await sendPart(part);
  };
  report();
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, () =>
    worker().catch((e) => {
      if (!failed) {
        failed = true;
        firstError = e;
      }
      stop.abort();
    })));
  if (failed) throw firstError;
  throwIfAborted(signal);
  return session.parts.map((p) => ({ PartNumber: p.partNumber, ETag: etags.get(p.partNumber) as string }));
}

/** Best effort: aborts the upload on the server; the server expires it anyway. */
async function abandon(calls: UploadCalls, ids: { fileId: string; uploadId: string }): Promise<void> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), kAbandonTimeoutMs);
  try {
    await calls.abortUpload(ids.fileId, ids.uploadId, timeout.signal);
  } catch {
    // Already gone, completed, or unreachable: nothing more to do.
  } finally {
    clearTimeout(timer);
  }
}

function workerCount(asked: number | undefined): number {
  const n = Math.floor(asked ?? kDefaultConcurrency);
  return Number.isFinite(n) ? Math.min(Math.max(1, n), kMaxConcurrency) : kDefaultConcurrency;
}

/** "Meeting.M4A" → "m4a"; "" when the name has no extension. */
export function extensionOf(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
}
