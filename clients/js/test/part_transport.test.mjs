// The storage endpoint's answers that the real server does not give on demand (a lost
// ETag header, SlowDown), played by a fake fetch.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AudiodropClient, AudiodropError } from '../dist/index.js';

function scripted(answers) {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push({ url: String(url), method: init.method, headers: init.headers, size: init.body?.size });
    const next = answers.shift();
    return typeof next === 'function' ? next() : next;
  };
  return { fetch, seen };
}

const client = (fetch) => new AudiodropClient({
  baseUrl: 'http://api.invalid/developer/api', getToken: () => 't', fetch, retry: { baseDelayMs: 1, maxDelayMs: 2 },
});

test('putPart sends the bytes bare and returns the ETag as sent', async () => {
  const s = scripted([new Response('', { status: 200, headers: { ETag: '"0cc175b9c0f1b6a831c399e269772661"' } })]);
  const progress = [];
  const etag = await client(s.fetch).putPart('http://storage.invalid/b/k?partNumber=1', new Blob(['a']),
    { onProgress: (b) => progress.push(b) });
  assert.equal(etag, '"0cc175b9c0f1b6a831c399e269772661"');
  assert.equal(s.seen[0].method, 'PUT');
  assert.equal(s.seen[0].headers, undefined, 'no header of ours: the URL signs host only');
  assert.equal(s.seen[0].size, 1);
  assert.deepEqual(progress, [1]);
});

test('an answer without ETag says CORS must expose it', async () => {
  const s = scripted([new Response('', { status: 200 })]);
  const err = await client(s.fetch).putPart('http://storage.invalid/p', new Blob(['a'])).catch((e) => e);
  assert.ok(err instanceof AudiodropError);
  assert.equal(err.code, 'etag_not_exposed');
  assert.match(err.message, /CORS/);
  assert.match(err.message, /ETag/);
  assert.equal(s.seen.length, 1, 'not retried');
});

test('SlowDown is retried after its Retry-After; AccessDenied is final', async () => {
  const slow = () => new Response('<Error><Code>SlowDown</Code><Message>busy</Message></Error>',
    { status: 503, headers: { 'Retry-After': '0', 'Content-Type': 'application/xml' } });
  const s = scripted([slow, slow, new Response('', { status: 200, headers: { ETag: '"x"' } })]);
  assert.equal(await client(s.fetch).putPart('http://storage.invalid/p', new Blob(['a'])), '"x"');
  assert.equal(s.seen.length, 3);

  const denied = scripted([new Response('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    { status: 403 })]);
  await assert.rejects(client(denied.fetch).putPart('http://storage.invalid/p', new Blob(['a'])),
    { code: 'AccessDenied', status: 403 });
  assert.equal(denied.seen.length, 1);
});
