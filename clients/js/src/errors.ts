// Every failure the client reports is an AudiodropError carrying the wire code, except
// an abort, which is the platform's own AbortError so that code written for fetch()
// (`e.name === 'AbortError'`) handles ours the same way.

export class AudiodropError extends Error {
  /** The answer's HTTP status; 0 when the error is not a server's error answer: no answer
   *  came (network failure), or the client found the fault itself (md5_mismatch, ...). */
  status: number;
  /** The API's `error.code`, the storage endpoint's S3 `<Code>`, or one of the client's
   *  own: `network_error`, `etag_not_exposed`, `md5_mismatch`, `invalid_plan`, `invalid_answer`,
   *  `invalid_request`, `http_<status>` for an answer without a code. */
  code: string;
  requestId?: string;
  retryAfterSeconds?: number;

  constructor(status: number, code: string, message: string,
              extra: { requestId?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(extra.requestId ? `${message} (request_id ${extra.requestId})` : message);
    this.name = 'AudiodropError';
    this.status = status;
    this.code = code;
    if (extra.requestId !== undefined) this.requestId = extra.requestId;
    if (extra.retryAfterSeconds !== undefined) this.retryAfterSeconds = extra.retryAfterSeconds;
    // Set by hand: Error's `cause` option is ES2022, the build targets ES2020.
    if (extra.cause !== undefined) (this as { cause?: unknown }).cause = extra.cause;
  }
}

export function abortError(): DOMException {
  return new DOMException('The upload was aborted', 'AbortError');
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

/** `work`, or an AbortError as soon as `signal` aborts, for waiting on what the signal
 *  does not stop itself. */
export function unlessAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A failure to get any answer: fetch's TypeError, or XMLHttpRequest's `error` event. */
export function networkError(what: string, cause: unknown): AudiodropError {
  let detail = cause instanceof Error ? cause.message : String(cause);
  // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
  const inner = (cause as { cause?: unknown } | null)?.cause;
  if (inner instanceof Error) detail += ` (${inner.message})`;
  return new AudiodropError(0, 'network_error', `${what}: ${detail}`, { cause });
}

/** What a throw out of fetch means: an abort, a network failure (fetch's TypeError,
 *  retried), or something else (a wrapper's own error, passed on untouched). */
export function fetchFailure(e: unknown, what: string, signal?: AbortSignal): unknown {
  if (signal?.aborted || isAbortError(e)) return abortError();
  if (e instanceof TypeError) return networkError(what, e);
  return e;
}

/** An error answer, read from its body: the API's
 *  `{"error":{"code","message"},"request_id"}` or the storage endpoint's S3 XML
 *  `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`. */
export function errorFromAnswer(status: number, body: string,
                                header: (name: string) => string | null,
                                nowMs: number = Date.now()): AudiodropError {
  let code = '';
  let message = '';
  let requestId: string | undefined;
  const json = parseJson(body);
  if (json && typeof json.error === 'object' && json.error !== null) {
    const e = json.error as Record<string, unknown>;
    code = typeof e.code === 'string' ? e.code : '';
    message = typeof e.message === 'string' ? e.message : '';
    if (typeof json.request_id === 'string') requestId = json.request_id;
  } else if (body.includes('<Code>')) {
    code = xmlElement(body, 'Code') ?? '';
    message = xmlElement(body, 'Message') ?? '';
    requestId = xmlElement(body, 'RequestId');
  }
  requestId = requestId || header('X-Request-Id') || undefined;
  const retryAfterSeconds = parseRetryAfter(header('Retry-After'), nowMs);
  return new AudiodropError(status, code || `http_${status}`, message || `HTTP ${status}`,
                            { requestId, retryAfterSeconds });
}

/** RFC 9110 Retry-After: delta-seconds or an HTTP-date (read against `nowMs`; a past
 *  date is 0). undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// S3 error documents are flat and never nest these elements, so a pattern reads them
// without an XML parser (DOMParser is absent in Node).
function xmlElement(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1]) : undefined;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) =>
    ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '');
}
