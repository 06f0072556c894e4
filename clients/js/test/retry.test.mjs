import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AudiodropError } from '../dist/index.js';
import { parseRetryAfter } from '../dist/errors.js';
import {
  backoffDelay, isRetryable, kDefaultRetryPolicy, kMaxRetryAfterMs, resolvePolicy, retryDelay, sleep, withRetry,
} from '../dist/retry.js';

const policy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 15000 };
const answer = (status, code, extra) => new AudiodropError(status, code, 'x', extra);

describe('backoff', () => {
  test('full jitter stays within [0, min(max, base * 2^retry))', () => {
    for (let retry = 0; retry < 12; retry++) {
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
      assert.equal(backoffDelay(policy, retry, 0), 0);
      assert.ok(backoffDelay(policy, retry, 0.999999) < ceiling);
      assert.ok(backoffDelay(policy, retry, 0.999999) >= ceiling - 1);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(policy, retry, Math.random());
        assert.ok(d >= 0 && d < ceiling, `retry ${retry}: ${d}`);
      }
    }
  });

  test('the jitter spreads delays over the whole range', () => {
    const draws = Array.from({ length: 2000 }, () => backoffDelay(policy, 10, Math.random()));
    assert.ok(Math.min(...draws) < 1500, 'some short waits');
    assert.ok(Math.max(...draws) > 13500, 'some long waits');
  });

  test('the ceiling doubles per retry up to the maximum', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, 0.9999999) + 1),
      [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  });

  test('policy defaults and partial overrides', () => {
    assert.deepEqual(resolvePolicy(), kDefaultRetryPolicy);
    assert.deepEqual(kDefaultRetryPolicy, { attempts: 5, baseDelayMs: 500, maxDelayMs: 15000 });
    assert.deepEqual(resolvePolicy({ attempts: 2 }), { attempts: 2, baseDelayMs: 500, maxDelayMs: 15000 });
    assert.equal(resolvePolicy({ attempts: 0 }).attempts, 1);
    assert.equal(resolvePolicy({ baseDelayMs: 20000 }).maxDelayMs, 20000);
  });
});

describe('Retry-After', () => {
  test('is honoured on 429 and 503, capped, and ignored on other statuses', () => {
    assert.equal(retryDelay(policy, 0, answer(429, 'rate_limited', { retryAfterSeconds: 7 }), 0.5), 7000);
    assert.equal(retryDelay(policy, 3, answer(503, 'SlowDown', { retryAfterSeconds: 1 }), 0.5), 1000);
    assert.equal(retryDelay(policy, 0, answer(503, 'server_busy', { retryAfterSeconds: 3600 }), 0.5), kMaxRetryAfterMs);
    assert.equal(retryDelay(policy, 0, answer(500, 'internal', { retryAfterSeconds: 7 }), 0.5), 250);
    assert.equal(retryDelay(policy, 1, answer(503, 'server_busy'), 0.5), 500);
  });

  test('reads delta-seconds and HTTP-dates', () => {
    const now = Date.parse('2026-12-02T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 02 Dec 2026 10:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Wed, 02 Dec 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});

describe('what is retried', () => {
  test('network errors, 408, 429, 5xx gateways and SlowDown; no other 4xx', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.ok(isRetryable(answer(s, `http_${s}`)), String(s));
    assert.ok(isRetryable(answer(0, 'network_error')));
    assert.ok(isRetryable(answer(400, 'SlowDown')));
    for (const s of [400, 401, 403, 404, 409, 410, 413, 422, 501, 507]) assert.ok(!isRetryable(answer(s, 'x')), String(s));
    assert.ok(!isRetryable(new TypeError('not from fetch')));
    assert.ok(!isRetryable(new Error('anything')));
  });

  test('withRetry tries until success, within the attempts', async () => {
    let tries = 0;
    const delays = [];
    const out = await withRetry(async () => {
      tries++;
      if (tries < 3) throw answer(503, 'server_busy');
      return 'ok';
    }, { attempts: 5, baseDelayMs: 1, maxDelayMs: 4 }, undefined, { onRetry: (_e, d) => delays.push(d) });
    assert.equal(out, 'ok');
    assert.equal(tries, 3);
    assert.equal(delays.length, 2);
  });

  test('withRetry gives up after the attempts with the last error, and at once on a 400', async () => {
    let tries = 0;
    await assert.rejects(withRetry(async () => {
      tries++;
      throw answer(502, 'bad_gateway');
    }, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }), { code: 'bad_gateway' });
    assert.equal(tries, 3);
    tries = 0;
    await assert.rejects(withRetry(async () => {
      tries++;
      throw answer(400, 'invalid_request');
    }, policy), { code: 'invalid_request' });
    assert.equal(tries, 1);
  });

  test('an abort cuts a backoff wait short', async () => {
    const c = new AbortController();
    const started = Date.now();
    const run = withRetry(async () => { throw answer(503, 'server_busy', { retryAfterSeconds: 60 }); }, policy, c.signal);
    setTimeout(() => c.abort(), 20);
    await assert.rejects(run, { name: 'AbortError' });
    assert.ok(Date.now() - started < 5000);
  });

  test('sleep rejects at once when already aborted', async () => {
    const c = new AbortController();
    c.abort();
    await assert.rejects(sleep(60_000, c.signal), { name: 'AbortError' });
  });
});
