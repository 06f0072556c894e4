// JSON calls to the API: Bearer token (renewed once on 401), retries per the policy,
// error answers turned into AudiodropError. Knows nothing of uploads.

import { AudiodropError, errorFromAnswer, fetchFailure } from './errors.js';
import { type RetryPolicy, withRetry } from './retry.js';
import type { TokenSource } from './token_source.js';

export type FetchFn = typeof fetch;

/** `fetch` called as a plain function: browsers refuse a fetch detached from `window`
 *  ("Illegal invocation"), and looking up the global per call lets polyfills load late. */
export function callableFetch(f?: FetchFn): FetchFn {
  return f ? (input, init) => f(input, init) : (input, init) => globalThis.fetch(input, init);
}

export class ApiCaller {
  readonly baseUrl: string;
  private readonly tokens_: TokenSource;
  private readonly policy_: RetryPolicy;
  private readonly fetch_: FetchFn;

  constructor(baseUrl: string, tokens: TokenSource, policy: RetryPolicy, fetchFn: FetchFn) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.tokens_ = tokens;
    this.policy_ = policy;
    this.fetch_ = fetchFn;
  }

  /** `path` under the base (starting with "/"); `body` is sent as JSON when given. The
   *  answer's JSON, or AudiodropError. A 401 renews the token and repeats the request
   *  once per call (not once per retry): a second refusal is final. */
  call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let renewed = false;
    return withRetry(async () => {
      let token = await this.tokens_.token();
      let res = await this.send(method, path, body, token, signal);
      if (res.status === 401 && !renewed) {
        renewed = true;
        await res.body?.cancel().catch(() => undefined);
        token = await this.tokens_.renew(token);
        res = await this.send(method, path, body, token, signal);
      }
      return this.read<T>(res, method, path, signal);
    }, this.policy_, signal);
  }

  private async send(method: string, path: string, body: unknown, token: string,
                     signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await this.fetch_(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      throw fetchFailure(e, `${method} ${path}`, signal);
    }
  }

  private async read<T>(res: Response, method: string, path: string, signal?: AbortSignal): Promise<T> {
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw fetchFailure(e, `${method} ${path}`, signal);
    }
    if (!res.ok) throw errorFromAnswer(res.status, text, (h) => res.headers.get(h));
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new AudiodropError(0, 'invalid_answer', `${method} ${path}: the answer is not JSON`);
    }
  }
}
