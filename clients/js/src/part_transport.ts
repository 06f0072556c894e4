// One PUT of one part's bytes to its presigned URL; the answer's ETag is what
// complete-upload needs. Browsers get XMLHttpRequest, the one API that reports upload
// progress (fetch reports none); Node, which has no XMLHttpRequest, gets fetch. No
// header is added: the URL signs `host` only, and any custom header would need the
// storage endpoint's CORS to allow it.

import type { FetchFn } from './api.js';
import { AudiodropError, abortError, errorFromAnswer, fetchFailure, networkError } from './errors.js';

export interface PutPartOptions {
  signal?: AbortSignal;
  /** Bytes of this part sent so far in this attempt. */
  onProgress?: (bytesSentOfThisPart: number) => void;
  /** Names the request in errors, e.g. "PUT part 3". */
  label?: string;
}

/** Resolves with the ETag header exactly as sent (quoted); rejects with AudiodropError
 *  (the S3 XML code, `network_error`, `etag_not_exposed`) or AbortError. */
export type PartTransport = (url: string, body: Blob, opts?: PutPartOptions) => Promise<string>;

export function defaultPartTransport(fetchFn: FetchFn): PartTransport {
  if (typeof XMLHttpRequest === 'function') return putWithXhr;
  return (url, body, opts) => putWithFetch(fetchFn, url, body, opts);
}

function missingEtag(label: string): AudiodropError {
  return new AudiodropError(0, 'etag_not_exposed',
    `${label}: the answer has no readable ETag header; the storage endpoint's CORS must ` +
    'expose it (Access-Control-Expose-Headers: ETag, as audiodrop-server does with ' +
    '--cors-allowed-origins naming this page\'s origin)');
}

export function putWithXhr(url: string, body: Blob, opts: PutPartOptions = {}): Promise<string> {
  const { signal, onProgress } = opts;
  const label = opts.label ?? 'PUT part';
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    const settle = (f: () => void) => {
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    xhr.open('PUT', url);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => settle(() => {
      if (xhr.status < 200 || xhr.status > 299) {
        reject(errorFromAnswer(xhr.status, xhr.responseText, (h) => xhr.getResponseHeader(h)));
        return;
      }
      const etag = xhr.getResponseHeader('ETag');
      if (!etag) return reject(missingEtag(label));
      onProgress?.(body.size);
      resolve(etag);
    });
    // The browser tells no more than "it failed" (a CORS refusal looks the same).
    xhr.onerror = () => settle(() => reject(networkError(label, new TypeError('network error'))));
    xhr.ontimeout = () => settle(() => reject(networkError(label, new TypeError('timed out'))));
    xhr.onabort = () => settle(() => reject(abortError()));
    signal?.addEventListener('abort', onAbort, { once: true });
    xhr.send(body);
  });
}

export async function putWithFetch(fetchFn: FetchFn, url: string, body: Blob,
                                   opts: PutPartOptions = {}): Promise<string> {
  const { signal, onProgress } = opts;
  const label = opts.label ?? 'PUT part';
  let res: Response;
  let text: string;
  try {
    res = await fetchFn(url, { method: 'PUT', body, signal });
    text = await res.text();
  } catch (e) {
    throw fetchFailure(e, label, signal);
  }
  if (!res.ok) throw errorFromAnswer(res.status, text, (h) => res.headers.get(h));
  const etag = res.headers.get('ETag');
  if (!etag) throw missingEtag(label);
  onProgress?.(body.size);
  return etag;
}
