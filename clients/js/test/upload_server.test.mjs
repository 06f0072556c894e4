// The client against the real audiodrop-server (test/server_harness.mjs): every request
// reaches the real API and storage endpoint; fetch wrappers only watch requests or fail
// chosen ones to stand in for a network fault or a page going away.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { AudiodropClient, AudiodropError, resumeKey } from '../dist/index.js';
import { MemoryStorage, Server, recordingFetch, timeoutSignal } from './server_harness.mjs';

const MiB = 1024 * 1024;
const md5 = (buf) => createHash('md5').update(buf).digest('hex');

/** A File-like Blob: upload() reads name and lastModified for the filetype and resume key. */
function fileOf(bytes, name = 'meeting.mp3', lastModified = 1_767_000_000_000) {
  return Object.assign(new Blob([bytes]), { name, lastModified });
}

async function downloaded(url) {
  const res = await fetch(url, { signal: timeoutSignal(30_000) });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

describe('upload against audiodrop-server', () => {
  let server;
  let token;
  const client = (extra = {}) => new AudiodropClient({
    baseUrl: server.apiUrl + '/', getToken: () => token, retry: { baseDelayMs: 10, maxDelayMs: 100 }, ...extra,
  });

  before(async () => {
    server = await new Server().start();
    token = await server.newUserToken();
  });
  after(async () => {
    await server?.stop();
  });

  test('a 12 MiB file uploads in parallel parts and downloads byte for byte', async () => {
    const bytes = randomBytes(12 * MiB);
    const rec = recordingFetch();
    const progress = [];
    const uploaded = [];
    const done = await client({ fetch: rec.fetch }).upload(fileOf(bytes), {
      concurrency: 3, resume: false,
      onProgress: (p) => progress.push(p),
      onPartUploaded: (n) => uploaded.push(n),
    });
    assert.equal(done.FileMd5, md5(bytes));
    assert.equal(done.FileType, 'mp3');
    assert.ok((await downloaded(done.DownloadUrl)).equals(bytes));
    assert.deepEqual(uploaded.sort(), [1, 2, 3]);
    assert.equal(rec.puts().length, 3);

    assert.ok(progress.length >= 4);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].bytesSent >= progress[i - 1].bytesSent, `progress went back at ${i}`);
    }
    const last = progress[progress.length - 1];
    assert.equal(last.bytesSent, bytes.length);
    assert.equal(last.bytesTotal, bytes.length);
    assert.equal(last.partsDone, 3);
    assert.equal(last.partsTotal, 3);
    assert.equal(last.etaSeconds, 0);

    const info = await client().getFile(done.FileId);
    assert.equal(info.Status, 'completed');
    assert.equal(info.FileSize, bytes.length);
  });

  test('a failed run keeps its state and the next run PUTs only the missing parts', async () => {
    const bytes = randomBytes(12 * MiB);
    const file = fileOf(bytes, 'resume.mp3');
    const storage = new MemoryStorage();
    const key = resumeKey(server.apiUrl, file);

    // Run 1: part 1 is stored, then the "page goes away": every other PUT fails with an
    // error no retry helps.
    let part1Stored;
    const part1 = new Promise((r) => { part1Stored = r; });
    const crash = recordingFetch(async (req, passOn) => {
      if (req.method !== 'PUT') return undefined;
      if (req.partNumber === 1) {
        const res = await passOn();
        part1Stored();
        return res;
      }
      await part1;
      throw new Error('simulated crash');
    });
    await assert.rejects(client({ fetch: crash.fetch }).upload(file, { resume: storage, concurrency: 3 }),
      /simulated crash/);
    const state = JSON.parse(storage.getItem(key));
    assert.equal(state.parts.length, 3);

    // Run 2: only parts 2 and 3 travel.
    const rec = recordingFetch();
    const done = await client({ fetch: rec.fetch }).upload(file, { resume: storage });
    assert.deepEqual(rec.puts().map((r) => r.partNumber).sort(), [2, 3]);
    assert.ok(rec.requests.some((r) => r.url.includes('/upload/parts?')));
    assert.ok(!rec.requests.some((r) => r.url.includes('generate-presigned-urls')));
    assert.equal(done.FileId, state.fileId);
    assert.equal(done.FileMd5, md5(bytes));
    assert.ok((await downloaded(done.DownloadUrl)).equals(bytes));
    assert.equal(storage.getItem(key), null);
  });

  test('resuming re-sends a stored part whose local bytes differ', async () => {
    const original = randomBytes(6 * MiB);
    const storage = new MemoryStorage();
    const crash = recordingFetch(async (req) => {
      if (req.method === 'PUT' && req.partNumber === 2) throw new Error('simulated crash');
      return undefined;
    });
    await assert.rejects(client({ fetch: crash.fetch }).upload(fileOf(original, 'edited.mp3'),
      { resume: storage, concurrency: 1 }), /simulated crash/);

    // Same name, size and mtime, other bytes: part 1's ETag no longer matches.
    const edited = Buffer.from(original);
    edited[0] ^= 0xff;
    const rec = recordingFetch();
    const done = await client({ fetch: rec.fetch }).upload(fileOf(edited, 'edited.mp3'), { resume: storage });
    assert.deepEqual(rec.puts().map((r) => r.partNumber).sort(), [1, 2]);
    assert.equal(done.FileMd5, md5(edited));
  });

  test('unreadable or unknown resume state starts a fresh upload', async () => {
    const bytes = randomBytes(1000);
    for (const stored of ['{not json', JSON.stringify({
      fileId: 'file_unknown', uploadId: 'upl_unknown', filetype: 'mp3', chunkSize: 5 * MiB,
      parts: [{ PartNumber: 1, PresignedUrl: 'http://127.0.0.1:9/nowhere' }], createdAt: '',
    })]) {
      const file = fileOf(bytes, 'stale.mp3');
      const storage = new MemoryStorage();
      storage.setItem(resumeKey(server.apiUrl, file), stored);
      const rec = recordingFetch();
      const done = await client({ fetch: rec.fetch }).upload(file, { resume: storage });
      assert.equal(done.FileMd5, md5(bytes));
      assert.ok(rec.requests.some((r) => r.url.includes('generate-presigned-urls')));
      assert.equal(storage.map.size, 0);
    }
  });

  test('the low-level calls compose: generate, putPart, listParts, completeUpload', async () => {
    const bytes = randomBytes(5 * MiB + 10);
    const c = client();
    const plan = await c.generatePresignedUrls(bytes.length, 'm4a');
    assert.equal(plan.ChunkSize, 5 * MiB);
    assert.deepEqual(plan.Parts.map((p) => p.PartNumber), [1, 2]);
    const etag1 = await c.putPart(plan.Parts[0].PresignedUrl, new Blob([bytes.subarray(0, 5 * MiB)]));
    assert.equal(etag1, `"${md5(bytes.subarray(0, 5 * MiB))}"`);
    const held = await c.listParts(plan.FileId, plan.UploadId);
    assert.equal(held.PartCount, 2);
    assert.deepEqual(held.Parts.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, etag1, 5 * MiB]]);
    const etag2 = await c.putPart(plan.Parts[1].PresignedUrl, new Blob([bytes.subarray(5 * MiB)]));
    const done = await c.completeUpload({
      fileId: plan.FileId, uploadId: plan.UploadId, filetype: 'm4a', fileMd5: md5(bytes),
      parts: [{ PartNumber: 1, ETag: etag1 }, { PartNumber: 2, ETag: etag2 }],
    });
    assert.equal(done.FileMd5, md5(bytes));
    await assert.rejects(c.listParts(plan.FileId, plan.UploadId), (e) => e instanceof AudiodropError && e.status === 409);
  });

  test('a refused token is renewed once and the call goes through', async () => {
    const tokens = ['not-a-valid-token', token];
    let asked = 0;
    const c = new AudiodropClient({ baseUrl: server.apiUrl, getToken: async () => tokens[asked++] });
    const plan = await c.generatePresignedUrls(1000, 'mp3');
    assert.equal(asked, 2);
    assert.equal(plan.Parts.length, 1);
    await c.abortUpload(plan.FileId, plan.UploadId);
    assert.equal(asked, 2, 'the renewed token is cached');
  });

  test('abort mid-upload aborts on the server, forgets the state and rejects with AbortError', async () => {
    const file = fileOf(randomBytes(12 * MiB), 'abort.mp3');
    const storage = new MemoryStorage();
    let saved;
    const setItem = storage.setItem.bind(storage);
    storage.setItem = (k, v) => {
      saved = JSON.parse(v);
      setItem(k, v);
    };
    const controller = new AbortController();
    const c = client();
    const err = await c.upload(file, {
      resume: storage, concurrency: 1, signal: controller.signal,
      onPartUploaded: () => controller.abort(),
    }).catch((e) => e);
    assert.ok(err instanceof DOMException, String(err));
    assert.equal(err.name, 'AbortError');
    assert.equal(storage.map.size, 0);
    assert.ok(saved?.fileId);
    const info = await c.getFile(saved.fileId);
    assert.equal(info.Status, 'aborted');
  });

  test('a 400 is final: unsupported filetype fails after one request', async () => {
    const rec = recordingFetch();
    const err = await client({ fetch: rec.fetch })
      .upload(fileOf(randomBytes(100), 'setup.exe'), { resume: false })
      .catch((e) => e);
    assert.ok(err instanceof AudiodropError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'unsupported_filetype');
    assert.ok(err.requestId);
    assert.match(err.message, /request_id/);
    assert.equal(rec.requests.length, 1);
  });

  test('a network error on a part PUT is retried and the upload completes', async () => {
    const bytes = randomBytes(11 * MiB);
    let failed = false;
    const rec = recordingFetch(async (req) => {
      if (req.method === 'PUT' && req.partNumber === 2 && !failed) {
        failed = true;
        throw new TypeError('fetch failed');
      }
      return undefined;
    });
    const done = await client({ fetch: rec.fetch }).upload(fileOf(bytes), { resume: false });
    assert.equal(done.FileMd5, md5(bytes));
    assert.deepEqual(rec.puts().map((r) => r.partNumber).sort(), [1, 2, 2, 3]);
  });
});
