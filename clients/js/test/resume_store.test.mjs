import assert from 'node:assert/strict';
import { test } from 'node:test';

import { resumeKey } from '../dist/index.js';
import { ResumeStore, parseResumeState, presignedUrlExpiry, resumeStorageFor, urlsStillValid } from '../dist/resume_store.js';

const file = { name: 'Meeting 1.mp3', size: 12345, lastModified: 1767000000000 };
const state = {
  fileId: 'file_1', uploadId: 'upl_1', filetype: 'mp3', chunkSize: 5242880, createdAt: '2026-12-02T10:00:00Z',
  parts: [{ PartNumber: 1, PresignedUrl: 'http://127.0.0.1:8081/b/k?X-Amz-Date=20261202T100000Z&X-Amz-Expires=3600' }],
};

test('the resume key names the API and the file', () => {
  const k = resumeKey('http://h:8080/developer/api', file);
  assert.equal(k, 'audiodrop:v1:http://h:8080/developer/api|Meeting 1.mp3|12345|1767000000000');
  assert.equal(resumeKey('http://h:8080/developer/api/', file), k, 'a trailing slash does not matter');
  assert.notEqual(resumeKey('http://other/developer/api', file), k);
  assert.notEqual(resumeKey('http://h:8080/developer/api', { ...file, size: 12346 }), k);
  assert.notEqual(resumeKey('http://h:8080/developer/api', { ...file, lastModified: 1 }), k);
  assert.equal(resumeKey('http://h', { size: 3 }), 'audiodrop:v1:http://h||3|0');
});

test('stored state round-trips; anything malformed reads as none and is removed', () => {
  const map = new Map();
  const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k) };
  const store = new ResumeStore(storage, 'k');
  assert.equal(store.load(), undefined);
  store.save(state);
  assert.deepEqual(store.load(), state);
  for (const bad of ['{', 'null', '[]', JSON.stringify({ ...state, parts: [] }),
    JSON.stringify({ ...state, chunkSize: 'x' }), JSON.stringify({ ...state, parts: [{ PartNumber: 2, PresignedUrl: 'u' }] })]) {
    map.set('k', bad);
    assert.equal(store.load(), undefined, bad);
    assert.equal(map.has('k'), false);
  }
  assert.equal(parseResumeState(JSON.stringify(state)).fileId, 'file_1');
});

test('a storage that throws costs the resume, not the upload', () => {
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('quota'); }, removeItem() { throw new Error('denied'); } };
  const store = new ResumeStore(broken, 'k');
  assert.equal(store.load(), undefined);
  store.save(state);
  store.forget();
  assert.equal(new ResumeStore(undefined, 'k').load(), undefined);
});

test('resume: false turns it off; true uses localStorage only where there is one', () => {
  const mine = { getItem: () => null, setItem() {}, removeItem() {} };
  assert.equal(resumeStorageFor(false), undefined);
  assert.equal(resumeStorageFor(mine), mine);
  assert.equal(resumeStorageFor(true), globalThis.localStorage ?? undefined);
});

test('presigned URLs past (or near) their expiry are not resumed with', () => {
  assert.equal(presignedUrlExpiry(state.parts[0].PresignedUrl), Date.parse('2026-12-02T11:00:00Z'));
  assert.equal(presignedUrlExpiry('http://h/no-signature'), undefined);
  assert.equal(presignedUrlExpiry('http://h/x?X-Amz-Date=20261202T100000Z'), undefined);
  assert.ok(urlsStillValid(state, Date.parse('2026-12-02T10:30:00Z')));
  assert.ok(!urlsStillValid(state, Date.parse('2026-12-02T10:58:00Z')), 'within the margin');
  assert.ok(!urlsStillValid(state, Date.parse('2026-12-03T00:00:00Z')));
});
