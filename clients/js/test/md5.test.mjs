import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { md5Hex } from '../dist/index.js';
import { etagHex } from '../dist/md5.js';

const MiB = 1024 * 1024;
const md5 = (buf) => createHash('md5').update(buf).digest('hex');

test('md5Hex matches node:crypto for 0, 1 and 4 MiB + 1 bytes over any slicing', async () => {
  for (const size of [0, 1, 4 * MiB + 1]) {
    const bytes = randomBytes(size);
    const blob = new Blob([bytes]);
    for (const sliceBytes of [1000, 65536, 4 * MiB, undefined]) {
      if (size > MiB && sliceBytes === 1000) continue;  // slow without telling more
      assert.equal(await md5Hex(blob, { sliceBytes }), md5(bytes), `size ${size}, slices ${sliceBytes}`);
    }
  }
});

test('md5Hex reads slice by slice', async () => {
  const bytes = randomBytes(3 * 65536 + 7);
  const blob = new Blob([bytes]);
  const reads = [];
  const spy = {
    size: blob.size,
    slice: (a, b) => {
      reads.push(b - a);
      return blob.slice(a, b);
    },
  };
  assert.equal(await md5Hex(spy, { sliceBytes: 65536 }), md5(bytes));
  assert.deepEqual(reads, [65536, 65536, 65536, 7]);
});

test('md5Hex stops when aborted', async () => {
  const c = new AbortController();
  c.abort();
  await assert.rejects(md5Hex(new Blob([randomBytes(10)]), { signal: c.signal }), { name: 'AbortError' });
});

test('etagHex unquotes', () => {
  assert.equal(etagHex('"0CC175B9C0F1B6A831C399E269772661"'), '0cc175b9c0f1b6a831c399e269772661');
  assert.equal(etagHex('W/"abc"'), 'abc');
  assert.equal(etagHex('abc'), 'abc');
});
