// The client callers hold: each API call as a method, and upload() tying them together.

import { ApiCaller, callableFetch } from './api.js';
import { type PartTransport, type PutPartOptions, defaultPartTransport } from './part_transport.js';
import { type RetryPolicy, resolvePolicy, withRetry } from './retry.js';
import { TokenSource } from './token_source.js';
import type {
  ClientOptions, CompleteUploadRequest, CompletedUpload, PresignedUpload, ReceivedParts, UploadFile,
  UploadOptions,
} from './types.js';
import { runUpload } from './upload.js';

const kFilesPath = '/open/partner/files';
const kUploadPath = `${kFilesPath}/upload`;

export class AudiodropClient {
  private readonly api_: ApiCaller;
  private readonly policy_: RetryPolicy;
  private readonly transport_: PartTransport;

  constructor(opts: ClientOptions) {
    if (!opts || typeof opts.baseUrl !== 'string' || typeof opts.getToken !== 'function') {
      throw new TypeError('AudiodropClient needs { baseUrl, getToken }');
    }
    const fetchFn = callableFetch(opts.fetch);
    this.policy_ = resolvePolicy(opts.retry);
    this.api_ = new ApiCaller(opts.baseUrl, new TokenSource(opts.getToken), this.policy_, fetchFn);
    this.transport_ = defaultPartTransport(fetchFn);
  }

  /** The base URL without its trailing slashes. */
  get baseUrl(): string {
    return this.api_.baseUrl;
  }

  generatePresignedUrls(filesize: number, filetype: string, signal?: AbortSignal): Promise<PresignedUpload> {
    return this.api_.call('POST', `${kUploadPath}/generate-presigned-urls`, { filesize, filetype }, signal);
  }

  /** The list-parts extension. */
  listParts(fileId: string, uploadId: string, signal?: AbortSignal): Promise<ReceivedParts> {
    const q = new URLSearchParams({ file_id: fileId, upload_id: uploadId });
    return this.api_.call('GET', `${kUploadPath}/parts?${q}`, undefined, signal);
  }

  /** Safe to repeat: the same part list answers the same (with a fresh DownloadUrl). */
  completeUpload(req: CompleteUploadRequest, signal?: AbortSignal): Promise<CompletedUpload> {
    const body: Record<string, unknown> = {
      file_id: req.fileId,
      upload_id: req.uploadId,
      part_list: req.parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })),
      filetype: req.filetype,
    };
    if (req.fileMd5 !== undefined) body.file_md5 = req.fileMd5;
    return this.api_.call('POST', `${kUploadPath}/complete-upload`, body, signal);
  }

  /** The abort-upload extension. */
  async abortUpload(fileId: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    await this.api_.call('POST', `${kUploadPath}/abort-upload`, { file_id: fileId, upload_id: uploadId }, signal);
  }

  /** The file extension: status, sizes, times, and once completed FileMd5, DownloadUrl, Audio. */
  getFile(fileId: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.api_.call('GET', `${kFilesPath}/${encodeURIComponent(fileId)}`, undefined, signal);
  }

  /** PUTs one part, retried per the policy; resolves with the ETag exactly as sent
   *  (quoted). onProgress counts this attempt's bytes, from 0 again after a retry. */
  putPart(url: string, body: Blob, opts: { signal?: AbortSignal; onProgress?: (bytesSentOfThisPart: number) => void } = {}): Promise<string> {
    const put: PutPartOptions = { signal: opts.signal, onProgress: opts.onProgress };
    return withRetry(() => this.transport_(url, body, put), this.policy_, opts.signal);
  }

  upload(file: UploadFile, opts: UploadOptions = {}): Promise<CompletedUpload> {
    return runUpload({ baseUrl: this.baseUrl, calls: this, transport: this.transport_, policy: this.policy_ }, file, opts);
  }
}
