// When to try a request again and how long to wait first. The schedule is pure
// (randomness passed in) so tests check its bounds without a network or a clock.

import { AudiodropError, abortError, isAbortError, throwIfAborted } from './errors.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const kDefaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 15000 };

// A Retry-After is obeyed up to this long; past it a broken or hostile header would park
// an upload for hours.
export const kMaxRetryAfterMs = 60_000;

const kRetryableStatuses = new Set([408, 429, 500, 502, 503, 504]);

export function resolvePolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  const attempts = Math.max(1, Math.floor(p.attempts ?? kDefaultRetryPolicy.attempts));
  const baseDelayMs = Math.max(0, p.baseDelayMs ?? kDefaultRetryPolicy.baseDelayMs);
  const maxDelayMs = Math.max(baseDelayMs, p.maxDelayMs ?? kDefaultRetryPolicy.maxDelayMs);
  return { attempts, baseDelayMs, maxDelayMs };
}

/** Network failures, timeouts, throttling and gateway trouble pass; any other 4xx is the
 *  caller's mistake and fails the same way again. S3's SlowDown is retried whatever its
 *  status. */
export function isRetryable(e: unknown): boolean {
  if (!(e instanceof AudiodropError)) return false;
  return e.code === 'network_error' || e.code === 'SlowDown' || kRetryableStatuses.has(e.status);
}

/** "Full jitter" (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in
 *  [0, min(max, base * 2^retry)), `retry` counting from 0, `unit` a draw in [0, 1).
 *  Spreads clients that failed together so they do not return together. */
export function backoffDelay(policy: RetryPolicy, retry: number, unit: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(Math.min(Math.max(unit, 0), 1) * ceiling);
}

/** The wait before retry number `retry` (from 0) after `e`: the server's Retry-After on
 *  429 and 503 (it knows when it will have room), else backoffDelay. */
export function retryDelay(policy: RetryPolicy, retry: number, e: unknown, unit: number): number {
  if (e instanceof AudiodropError && (e.status === 429 || e.status === 503) &&
      e.retryAfterSeconds !== undefined) {
    return Math.min(e.retryAfterSeconds * 1000, kMaxRetryAfterMs);
  }
  return backoffDelay(policy, retry, unit);
}

/** Resolves after `ms`, or rejects with AbortError the moment `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  /** A draw in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  /** Called after a failed try that will be retried, before the wait. */
  onRetry?: (e: unknown, delayMs: number) => void;
}

/** Runs `attempt` until it succeeds, fails for good, or the policy's tries are spent; the
 *  last error is thrown. An abort is never retried and cuts a wait short. */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, policy: RetryPolicy,
                                   signal?: AbortSignal, hooks: RetryHooks = {}): Promise<T> {
  const random = hooks.random ?? Math.random;
  for (let n = 0; ; n++) {
    throwIfAborted(signal);
    try {
      return await attempt(n);
    } catch (e) {
      if (signal?.aborted || isAbortError(e)) throw abortError();
      if (!isRetryable(e) || n + 1 >= policy.attempts) throw e;
      const delay = retryDelay(policy, n, e, random());
      hooks.onRetry?.(e, delay);
      await sleep(delay, signal);
    }
  }
}
