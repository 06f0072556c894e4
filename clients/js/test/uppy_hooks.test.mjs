// The Uppy hooks against the real audiodrop-server, called the way @uppy/aws-s3 5.x
// calls them: create, sign each part and PUT it, list, complete; and abort. The browser
// test (tests/browser) runs them inside Uppy itself.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { AudiodropClient, AudiodropError, chunkSizeFor } from '../dist/index.js';
import { audiodropUppyOptions } from '../dist/uppy.js';
import { MemoryStorage, Server, timeoutSignal } from './server_harness.mjs';

const MiB = 1024 * 1024;
const md5 = (buf) => createHash('md5').update(buf).digest('hex');

function uppyFile(bytes, name = 'call.mp3') {
  return { name, extension: 'mp3', size: bytes.length, data: new Blob([bytes]) };
}

// A file whose slices the test sees read: `read` holds the offset of each slice asked
// for; reads wait for `gate` when one is set, and fail when `failWith` is set.
class WatchedBlob extends Blob {
  constructor(bytes) {
    super([bytes]);
    this.bytes = bytes;
    this.read = [];
    this.gate = undefined;
    this.failWith = undefined;
  }

  slice(start = 0, end = this.size) {
    this.read.push(start);
    const bytes = this.bytes.subarray(start, end);
    return {
      size: bytes.length,
      arrayBuffer: async () => {
        await this.gate;
        if (this.failWith) throw this.failWith;
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
      },
    };
  }
}

// Until `done()` holds, a turn of the event loop at a time, for at most 30 s.
async function untilTrue(done, what) {
  const deadline = Date.now() + 30_000;
  while (!done() && Date.now() < deadline) await new Promise(setImmediate);
  assert.ok(done(), what);
}

async function put(url, body) {
  const res = await fetch(url, { method: 'PUT', body, signal: timeoutSignal(30_000) });
  assert.equal(res.status, 200);
  return res.headers.get('etag');
}

describe('audiodropUppyOptions against audiodrop-server', () => {
  let server;
  let client;

  before(async () => {
    server = await new Server().start();
    const token = await server.newUserToken();
    client = new AudiodropClient({ baseUrl: server.apiUrl, getToken: () => token });
  });
  after(async () => {
    await server?.stop();
  });

  test('getChunkSize follows the server: 5 MiB, grown past 10,000 parts', () => {
    const hooks = audiodropUppyOptions({ client, storage: null });
    assert.equal(hooks.getChunkSize({ size: 12 * MiB }), 5 * MiB);
    assert.equal(hooks.getChunkSize({ size: 60_000 * MiB }), 6 * MiB);
    assert.equal(chunkSizeFor(1), 5 * MiB);
  });

  test('a whole upload through the hooks, with the part URLs kept across a reload', async () => {
    const bytes = randomBytes(12 * MiB + 7);
    const file = uppyFile(bytes);
    const storage = new MemoryStorage();
    const hooks = audiodropUppyOptions({ client, storage });
    const { uploadId, key } = await hooks.createMultipartUpload(file);

    const chunk = hooks.getChunkSize(file);
    const first = await hooks.signPart(file, { uploadId, key, partNumber: 1 });
    assert.equal(first.method, 'PUT');
    const etag1 = await put(first.url, file.data.slice(0, chunk));

    // A new page: fresh hooks, the same storage.
    const reloaded = audiodropUppyOptions({ client, storage });
    const listed = await reloaded.listParts(file, { uploadId, key });
    assert.deepEqual(listed, [{ PartNumber: 1, ETag: etag1, Size: chunk }]);
    const parts = [{ PartNumber: 1, ETag: etag1 }];
    for (const partNumber of [2, 3]) {
      const { url } = await reloaded.signPart(file, { uploadId, key, partNumber });
      const start = (partNumber - 1) * chunk;
      parts.push({ PartNumber: partNumber, ETag: await put(url, file.data.slice(start, start + chunk)) });
    }
    const done = await reloaded.completeMultipartUpload(file, { uploadId, key, parts });
    assert.equal(done.FileMd5, md5(bytes));
    assert.equal(done.location, done.DownloadUrl);
    assert.equal(done.FileId, key);
    assert.equal(storage.map.size, 0, 'the part URLs are forgotten once complete');
    await assert.rejects(reloaded.signPart(file, { uploadId, key, partNumber: 1 }),
      (e) => e instanceof AudiodropError && e.code === 'upload_unknown');
  });

  test('the file is hashed from createMultipartUpload on, and complete does not read it again', async () => {
    const bytes = randomBytes(9 * MiB + 5); // 3 slices of md5Hex, 2 parts
    const file = { ...uppyFile(bytes), data: new WatchedBlob(bytes) };
    const hooks = audiodropUppyOptions({ client, storage: null });
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    // Hashed while no part has been sent yet: beside the uploads, not after them.
    await untilTrue(() => file.data.read.length === 3, 'the whole file read before any part');
    assert.deepEqual(file.data.read, [0, 4 * MiB, 8 * MiB]);

    const chunk = hooks.getChunkSize(file);
    const parts = [];
    for (const partNumber of [1, 2]) {
      const { url } = await hooks.signPart(file, { uploadId, key, partNumber });
      const body = bytes.subarray((partNumber - 1) * chunk, partNumber * chunk);
      parts.push({ PartNumber: partNumber, ETag: await put(url, body) });
    }
    const done = await hooks.completeMultipartUpload(file, { uploadId, key, parts });
    assert.equal(done.FileMd5, md5(bytes));
    assert.equal(file.data.read.length, 3, 'complete hashed the file again');
  });

  test('an abort stops the hash where it is', async () => {
    const bytes = randomBytes(12 * MiB);
    const file = { ...uppyFile(bytes), data: new WatchedBlob(bytes) };
    let open;
    file.data.gate = new Promise((resolve) => { open = resolve; });
    const hooks = audiodropUppyOptions({ client, storage: null });
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    await untilTrue(() => file.data.read.length === 1, 'the first slice asked for');
    await hooks.abortMultipartUpload(file, { uploadId, key });
    open();
    // What the hash does once its read returns runs before the loop's next turn.
    await new Promise(setImmediate);
    assert.deepEqual(file.data.read, [0], 'the hash went on reading after the abort');
    assert.equal((await client.getFile(key)).Status, 'aborted');
  });

  test('a file that cannot be read fails complete, and the upload stays open', async () => {
    const bytes = randomBytes(1000);
    const file = { ...uppyFile(bytes), data: new WatchedBlob(bytes) };
    file.data.failWith = new DOMException('the file changed', 'NotReadableError');
    const hooks = audiodropUppyOptions({ client, storage: null });
    // The hash fails in the background at once; that is only said at complete.
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    const { url } = await hooks.signPart(file, { uploadId, key, partNumber: 1 });
    const etag = await put(url, bytes);
    await assert.rejects(
      hooks.completeMultipartUpload(file, { uploadId, key, parts: [{ PartNumber: 1, ETag: etag }] }),
      { name: 'NotReadableError' });
    assert.equal((await client.getFile(key)).Status, 'uploading');
  });

  test('signPart refuses a part number the upload does not have', async () => {
    const file = uppyFile(randomBytes(1000));
    const hooks = audiodropUppyOptions({ client, storage: null });
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    await assert.rejects(hooks.signPart(file, { uploadId, key, partNumber: 2 }),
      (e) => e instanceof AudiodropError && e.code === 'invalid_part');
  });

  test('abortMultipartUpload aborts the upload on the server', async () => {
    const file = uppyFile(randomBytes(6 * MiB));
    const hooks = audiodropUppyOptions({ client, storage: null });
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    await hooks.abortMultipartUpload(file, { uploadId, key });
    const info = await client.getFile(key);
    assert.equal(info.Status, 'aborted');
  });

  test('a complete whose bytes are not the file fails with the server\'s md5_mismatch', async () => {
    const bytes = randomBytes(1000);
    const file = uppyFile(bytes);
    const hooks = audiodropUppyOptions({ client, storage: null });
    const { uploadId, key } = await hooks.createMultipartUpload(file);
    const { url } = await hooks.signPart(file, { uploadId, key, partNumber: 1 });
    const etag = await put(url, new Blob([randomBytes(1000)]));
    await assert.rejects(
      hooks.completeMultipartUpload(file, { uploadId, key, parts: [{ PartNumber: 1, ETag: etag }] }),
      (e) => e instanceof AudiodropError && e.code === 'md5_mismatch' && e.status === 400);
  });
});
