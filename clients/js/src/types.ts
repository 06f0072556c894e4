// The API's answers as the wire spells them (docs/API.md), and the options callers pass.

import type { RetryPolicy } from './retry.js';
import type { TokenProvider } from './token_source.js';

export interface ClientOptions {
  /** The API's base, e.g. "http://127.0.0.1:8080/developer/api"; a trailing slash is fine. */
  baseUrl: string;
  getToken: TokenProvider;
  retry?: Partial<RetryPolicy>;
  /** For API calls, and for part PUTs where XMLHttpRequest is absent (Node). */
  fetch?: typeof fetch;
}

/** generate-presigned-urls */
export interface PresignedUpload {
  FileId: string;
  UploadId: string;
  ChunkSize: number;
  Parts: { PartNumber: number; PresignedUrl: string }[];
}

/** The list-parts extension: what the server holds of an open upload. */
export interface ReceivedParts {
  FileId: string;
  UploadId: string;
  ChunkSize: number;
  PartCount: number;
  Parts: { PartNumber: number; ETag: string; Size: number }[];
}

/** complete-upload */
export interface CompletedUpload {
  FileId: string;
  FileType: string;
  DownloadUrl: string;
  FileMd5: string;
}

export interface UploadProgress {
  /** Never goes backwards, though a failed attempt's bytes are sent again. */
  bytesSent: number;
  bytesTotal: number;
  /** Over the last few seconds. */
  bytesPerSecond: number;
  /** null until there is a rate to go by. */
  etaSeconds: number | null;
  partsDone: number;
  partsTotal: number;
}

/** window.localStorage fits. */
export interface ResumeStorage {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export interface UploadOptions {
  /** Default: the file name's extension, lowercased. */
  filetype?: string;
  /** Part PUTs in flight at once; default 4. */
  concurrency?: number;
  onProgress?: (p: UploadProgress) => void;
  /** After each part this run PUT (parts found on the server when resuming are not
   *  reported). A throw stops the upload as a failed part would; its resume state stays. */
  onPartUploaded?: (partNumber: number) => void;
  /** Abort: stops the PUTs, aborts the upload on the server, forgets the resume state and
   *  rejects with AbortError. */
  signal?: AbortSignal;
  /** Default true: globalThis.localStorage where there is one, else no resume. */
  resume?: boolean | ResumeStorage;
  /** Default true: send the file's MD5 as file_md5 and check the answer's FileMd5. */
  verifyMd5?: boolean;
}

/** complete-upload's request, in the client's words. */
export interface CompleteUploadRequest {
  fileId: string;
  uploadId: string;
  parts: { PartNumber: number; ETag: string }[];
  filetype: string;
  fileMd5?: string;
}

/** What upload() reads of a file: a Blob, with File's name and mtime when it is one. */
export type UploadFile = Blob & { name?: string; lastModified?: number };
