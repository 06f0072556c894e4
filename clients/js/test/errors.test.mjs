import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AudiodropError } from '../dist/index.js';
import { errorFromAnswer } from '../dist/errors.js';

const headers = (h) => (name) => h[name.toLowerCase()] ?? null;

test('an API error answer gives its code, message and request_id', () => {
  const e = errorFromAnswer(400,
    '{"error":{"code":"unsupported_filetype","message":"filetype \'exe\' is not allowed"},"request_id":"req_1"}',
    headers({}));
  assert.ok(e instanceof AudiodropError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'AudiodropError');
  assert.equal(e.status, 400);
  assert.equal(e.code, 'unsupported_filetype');
  assert.equal(e.requestId, 'req_1');
  assert.equal(e.message, "filetype 'exe' is not allowed (request_id req_1)");
});

test('an S3 XML error gives its Code, and Retry-After is kept', () => {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
    '<Message>Please reduce your request rate &amp; retry.</Message><RequestId>r-9</RequestId></Error>';
  const e = errorFromAnswer(503, xml, headers({ 'retry-after': '2' }));
  assert.equal(e.code, 'SlowDown');
  assert.equal(e.retryAfterSeconds, 2);
  assert.equal(e.requestId, 'r-9');
  assert.match(e.message, /reduce your request rate & retry/);
});

test('an answer without a code is named by its status; X-Request-Id fills in', () => {
  const e = errorFromAnswer(502, '<html>bad gateway</html>', headers({ 'x-request-id': 'req_h' }));
  assert.equal(e.code, 'http_502');
  assert.equal(e.requestId, 'req_h');
  assert.equal(errorFromAnswer(500, '', headers({})).requestId, undefined);
});

test('a network error names the request and, from Node, the reason', async () => {
  const { AudiodropClient } = await import('../dist/index.js');
  const c = new AudiodropClient({ baseUrl: 'http://127.0.0.1:9/developer/api', getToken: () => 't',
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
  const err = await c.getFile('file_x').catch((e) => e);
  assert.ok(err instanceof AudiodropError, String(err));
  assert.equal(err.code, 'network_error');
  assert.equal(err.status, 0);
  assert.match(err.message, /GET \/open\/partner\/files\/file_x/);
});
