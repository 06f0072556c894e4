// Lets Uppy's @uppy/aws-s3 (5.x, whose multipart hooks this fills in) upload through the
// audiodrop API: Uppy cuts the file and PUTs the parts itself; these hooks open the
// upload with generate-presigned-urls, hand out the part URLs that call returned, and
// finish with complete-upload. No Uppy code is imported, so the client works without it.
import type { AudiodropClient } from './client.js';
import { AudiodropError } from './errors.js';
import { md5Hex } from './md5.js';
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
  // Default true: send file_md5 (hashed incrementally at complete) and check FileMd5.
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
  }

  return {
    shouldUseMultipart: true,
    // Uppy asks before the upload is opened, so this follows the documented rule rather
    // than the answer; createMultipartUpload checks the two agree.
    getChunkSize: (file) => chunkSizeFor(file.size),

    async createMultipartUpload(file) {
      const size = file.size ?? bytesOf(file).size;
      const filetype = filetypeOf(file);
      const upload = await client.generatePresignedUrls(size, filetype);
      if (upload.ChunkSize !== chunkSizeFor(size)) {
        throw new AudiodropError(
          0,
          'chunk_size_mismatch',
          `the server cuts ${size} bytes into parts of ${upload.ChunkSize}, not ${chunkSizeFor(size)}`,
        );
      }
      remember(upload, filetype);
      return { uploadId: upload.UploadId, key: upload.FileId };
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
      const fileMd5 = verifyMd5 ? await md5Hex(bytesOf(file), { signal }) : undefined;
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
