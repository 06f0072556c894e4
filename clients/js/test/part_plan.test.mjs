import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chunkSizeFor, planParts } from '../dist/part_plan.js';

const MiB = 1024 * 1024;
const sizes = (parts) => parts.map((p) => p.end - p.start);

test('a file smaller than ChunkSize is one part', () => {
  assert.deepEqual(planParts(1, 5 * MiB), [{ partNumber: 1, start: 0, end: 1 }]);
  assert.deepEqual(sizes(planParts(1234567, 5 * MiB)), [1234567]);
});

test('an exact multiple gives full parts only', () => {
  assert.deepEqual(sizes(planParts(10 * MiB, 5 * MiB)), [5 * MiB, 5 * MiB]);
});

test('one byte over gives a last part of one byte', () => {
  const parts = planParts(10 * MiB + 1, 5 * MiB);
  assert.deepEqual(sizes(parts), [5 * MiB, 5 * MiB, 1]);
  assert.deepEqual(parts.map((p) => p.partNumber), [1, 2, 3]);
  assert.equal(parts[2].start, 10 * MiB);
});

test('parts are contiguous and cover the file; none for 0 bytes', () => {
  assert.deepEqual(planParts(0, 5 * MiB), []);
  const parts = planParts(37 * MiB + 12345, 5 * MiB);
  parts.forEach((p, i) => assert.equal(p.start, i === 0 ? 0 : parts[i - 1].end));
  assert.equal(parts[parts.length - 1].end, 37 * MiB + 12345);
  assert.throws(() => planParts(-1, 5 * MiB), RangeError);
  assert.throws(() => planParts(10, 0), RangeError);
});

test('ChunkSize is 5 MiB, grown by whole MiB so parts stay at most 10,000', () => {
  assert.equal(chunkSizeFor(1), 5 * MiB);
  assert.equal(chunkSizeFor(10000 * 5 * MiB), 5 * MiB);
  assert.equal(chunkSizeFor(10000 * 5 * MiB + 1), 6 * MiB);
  assert.equal(chunkSizeFor(10000 * 6 * MiB + 1), 7 * MiB);
  for (const size of [50 * 1024 * MiB, 123456789012]) {
    assert.ok(planParts(size, chunkSizeFor(size)).length <= 10000);
  }
});
