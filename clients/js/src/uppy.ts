// Lets Uppy's @uppy/aws-s3 (5.x, whose multipart hooks this fills in) upload through the
// audiodrop API: Uppy cuts the file and PUTs the parts itself; these hooks open the
// upload with generate-presigned-urls, hand out the part URLs that call returned, and
// finish with complete-upload. No Uppy code is imported, so the client works without it.
import type { AudiodropClient } from './client.js';
import { AudiodropError, unlessAborted } from './errors.js';
import { md5Hex, md5InBackground } from './md5.js';
import { chunkSizeFor } from './part_plan.js';
import type { PresignedUpload, ResumeStorage } from './types.js';

// The parts of an UppyFile these hooks read.
export interface UppyFileLike {
  name?: string;
  extension?: string;
  size: number | null;
  // Only size, without the bytes, for files Uppy takes from a remote provider.
  data?: Blob | { size: number | null } | null;
}

// Uppy's types allow an upload without an id (single PUTs); ours always has one.
interface UploadRef {
  uploadId?: string;
  key: string;
  signal?: AbortSignal;
}

export interface UppyPart {
  PartNumber?: number;
  ETag?: string;
  Size?: number;
}

export interface AudiodropUppyOptions {
  client: AudiodropClient;
  // Default: the file's extension, lowercased.
  filetypeOf?: (file: UppyFileLike) => string;
  // Default true: send file_md5 and check FileMd5. The file is hashed (incrementally)
  // from createMultipartUpload on, while Uppy sends the parts.
  verifyMd5?: boolean;
  // Where each upload's part URLs are kept so listParts/signPart still work after a
  // page reload (Uppy's Golden Retriever restores uploadId and key, not the URLs).
  // Default: localStorage when present.
  storage?: ResumeStorage | null;
}

// What @uppy/aws-s3 5.x takes for multipart uploads without Companion.
export interface AwsS3MultipartHooks {
  shouldUseMultipart: true;
  getChunkSize: (file: { size: number }) => number;
  createMultipartUpload: (file: UppyFileLike) => Promise<{ uploadId: string; key: string }>;
  signPart: (
    file: UppyFileLike,
    opts: UploadRef & { partNumber: number },
  ) => Promise<{ method: 'PUT'; url: string; headers: Record<string, string> }>;
  listParts: (file: UppyFileLike, opts: UploadRef) => Promise<UppyPart[]>;
  completeMultipartUpload: (
    file: UppyFileLike,
    opts: UploadRef & { parts: UppyPart[] },
  ) => Promise<{ location: string; FileId: string; FileType: string; FileMd5: string; DownloadUrl: string }>;
  abortMultipartUpload: (file: UppyFileLike, opts: UploadRef) => Promise<void>;
}

interface OpenUpload {
  filetype: string;
  urls: Record<number, string>;
}

// The file's MD5 being computed beside the part uploads, until complete or abort.
interface Hashing {
  digest: Promise<string>;
  stop: AbortController;
}

const storagePrefix = 'audiodrop:uppy:v1:';

function defaultStorage(): ResumeStorage | null {
  try {
    return (globalThis as { localStorage?: ResumeStorage }).localStorage ?? null;
  } catch {
    return null; // storage disabled by the browser's privacy settings
  }
}

function bytesOf(file: UppyFileLike): Blob {
  if (!(file.data instanceof Blob)) {
    throw new AudiodropError(0, 'invalid_request', `${file.name ?? 'the file'} has no local bytes to upload`);
  }
  return file.data;
}

function extensionOf(file: UppyFileLike): string {
  const fromName = file.name?.includes('.') ? file.name.slice(file.name.lastIndexOf('.') + 1) : '';
  return (file.extension || fromName).toLowerCase();
}

export function audiodropUppyOptions(opts: AudiodropUppyOptions): AwsS3MultipartHooks {
  const { client } = opts;
  const filetypeOf = opts.filetypeOf ?? extensionOf;
  const verifyMd5 = opts.verifyMd5 ?? true;
  const storage = opts.storage === undefined ? defaultStorage() : opts.storage;
  const open = new Map<string, OpenUpload>();
  const hashing = new Map<string, Hashing>(); // by uploadId

  function remember(upload: PresignedUpload, filetype: string): void {
    const urls: Record<number, string> = {};
    for (const part of upload.Parts) urls[part.PartNumber] = part.PresignedUrl;
    const entry = { filetype, urls };
    open.set(upload.UploadId, entry);
    storage?.setItem(storagePrefix + upload.UploadId, JSON.stringify(entry));
  }

  function recall(uploadId: string | undefined): OpenUpload {
    if (!uploadId) throw new AudiodropError(0, 'invalid_request', 'Uppy gave no uploadId');
    let entry = open.get(uploadId);
    if (!entry) {
      const saved = storage?.getItem(storagePrefix + uploadId);
      if (saved) {
        entry = JSON.parse(saved) as OpenUpload;
        open.set(uploadId, entry);
      }
    }
    if (!entry) {
      throw new AudiodropError(
        0,
        'upload_unknown',
        `upload ${uploadId} was opened elsewhere and its part URLs are not kept here; start it again`,
      );
    }
    return entry;
  }

  function forget(uploadId: string | undefined): void {
    if (!uploadId) return;
    open.delete(uploadId);
    storage?.removeItem(storagePrefix + uploadId);
    hashing.get(uploadId)?.stop.abort();
    hashing.delete(uploadId);
  }

  function startHashing(file: UppyFileLike): Hashing | undefined {
    // Without local bytes there is nothing to hash; complete says so.
    if (!verifyMd5 || !(file.data instanceof Blob)) return undefined;
    const stop = new AbortController();
    return { digest: md5InBackground(file.data, stop.signal), stop };
  }

  // The digest started at create, or, for an upload these hooks did not open (a page
  // reloaded since), one computed now.
  function md5Of(file: UppyFileLike, uploadId: string, signal?: AbortSignal): Promise<string> {
    const started = hashing.get(uploadId);
    if (!started) return md5Hex(bytesOf(file), { signal });
    // The hash goes on if this call is given up: a retried complete still wants it.
    return unlessAborted(started.digest, signal);
  }

  return {
    shouldUseMultipart: true,
    // Uppy asks before the upload is opened, so this follows the documented rule rather
    // than the answer; createMultipartUpload checks the two agree.
    getChunkSize: (file) => chunkSizeFor(file.size),

    async createMultipartUpload(file) {
      const size = file.size ?? bytesOf(file).size;
      const filetype = filetypeOf(file);
      const md5 = startHashing(file);
      try {
        const upload = await client.generatePresignedUrls(size, filetype);
        if (upload.ChunkSize !== chunkSizeFor(size)) {
          throw new AudiodropError(
            0,
            'chunk_size_mismatch',
            `the server cuts ${size} bytes into parts of ${upload.ChunkSize}, not ${chunkSizeFor(size)}`,
          );
        }
        remember(upload, filetype);
        if (md5) hashing.set(upload.UploadId, md5);
        return { uploadId: upload.UploadId, key: upload.FileId };
      } catch (e) {
        md5?.stop.abort();
        throw e;
      }
    },

    async signPart(_file, { uploadId, partNumber }) {
      const url = recall(uploadId).urls[partNumber];
      if (!url) {
        throw new AudiodropError(0, 'invalid_part', `upload ${uploadId} has no part ${partNumber}`);
      }
      return { method: 'PUT', url, headers: {} };
    },

    async listParts(_file, { uploadId, key, signal }) {
      recall(uploadId); // fail now, not at the first signPart, if the URLs are gone
      const received = await client.listParts(key, uploadId as string, signal);
      return received.Parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size }));
    },

    async completeMultipartUpload(file, { uploadId, key, parts, signal }) {
      const { filetype } = recall(uploadId);
      const id = uploadId as string; // recall() refused an absent one
      const fileMd5 = verifyMd5 ? await md5Of(file, id, signal) : undefined;
      const partList = parts.map((p) => ({ PartNumber: p.PartNumber ?? 0, ETag: p.ETag ?? '' }));
      const done = await client.completeUpload(
        { fileId: key, uploadId: id, parts: partList, filetype, fileMd5 },
        signal,
      );
      forget(uploadId);
      if (fileMd5 !== undefined && done.FileMd5 !== fileMd5) {
        throw new AudiodropError(
          0,
          'md5_mismatch',
          `the server stored bytes with MD5 ${done.FileMd5}, the file's is ${fileMd5}`,
        );
      }
      return { location: done.DownloadUrl, ...done };
    },

    async abortMultipartUpload(_file, { uploadId, key, signal }) {
      if (!uploadId) return; // nothing was opened
      forget(uploadId);
      await client.abortUpload(key, uploadId, signal);
    },
  };
}
