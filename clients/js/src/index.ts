// @audiodrop/client: uploads to the audiodrop (Plaud-compatible) File Upload API from a
// browser or Node.js. See docs/API.md for the calls underneath.

export { AudiodropClient } from './client.js';
export { AudiodropError } from './errors.js';
export { md5Hex } from './md5.js';
export { chunkSizeFor } from './part_plan.js';
export { resumeKey } from './resume_store.js';
export type { RetryPolicy } from './retry.js';
export type { TokenProvider } from './token_source.js';
export type {
  ClientOptions, CompleteUploadRequest, CompletedUpload, PresignedUpload, ReceivedParts, ResumeStorage,
  UploadFile, UploadOptions, UploadProgress,
} from './types.js';
