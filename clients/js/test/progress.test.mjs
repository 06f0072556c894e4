import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ProgressMeter } from '../dist/progress.js';

function clock(start = 1000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('in-flight bytes count; rate and ETA follow from them', () => {
  const c = clock();
  const m = new ProgressMeter(1000, 2, c.now, 5000);
  let p = m.snapshot();
  assert.deepEqual(p, { bytesSent: 0, bytesTotal: 1000, bytesPerSecond: 0, etaSeconds: null, partsDone: 0, partsTotal: 2 });
  c.t += 1000;
  m.sending(1, 100);
  m.sending(2, 100);
  p = m.snapshot();
  assert.equal(p.bytesSent, 200);
  assert.equal(p.bytesPerSecond, 200);
  assert.equal(p.etaSeconds, 4);
  c.t += 1000;
  m.done(1, 500);
  p = m.snapshot();
  assert.equal(p.bytesSent, 600);
  assert.equal(p.partsDone, 1);
  assert.equal(p.bytesPerSecond, 300);
  assert.ok(Math.abs(p.etaSeconds - 400 / 300) < 1e-9);
  c.t += 1000;
  m.done(2, 500);
  p = m.snapshot();
  assert.equal(p.bytesSent, 1000);
  assert.equal(p.etaSeconds, 0);
  assert.equal(p.partsDone, 2);
});

test('a failed attempt does not move the bar back, and its bytes must be sent again', () => {
  const c = clock();
  const m = new ProgressMeter(1000, 1, c.now);
  c.t += 100;
  m.sending(1, 600);
  m.failed(1);
  c.t += 100;
  m.sending(1, 300);
  assert.equal(m.snapshot().bytesSent, 600);
  c.t += 100;
  m.sending(1, 800);
  assert.equal(m.snapshot().bytesSent, 800);
});

test('the rate is a moving average over the window', () => {
  const c = clock(0);
  const m = new ProgressMeter(100_000, 1, c.now, 5000);
  // 10 s at 1000 B/s, then 5 s at 5000 B/s: the window sees only the fast part.
  for (let i = 1; i <= 10; i++) {
    c.t = i * 1000;
    m.sending(1, i * 1000);
  }
  for (let i = 1; i <= 5; i++) {
    c.t = 10_000 + i * 1000;
    m.sending(1, 10_000 + i * 5000);
  }
  assert.equal(m.snapshot().bytesPerSecond, 5000);
  assert.equal(m.snapshot().etaSeconds, (100_000 - 35_000) / 5000);
});

test('parts found on the server count as sent but not towards the rate', () => {
  const c = clock();
  const m = new ProgressMeter(3000, 3, c.now);
  m.done(1, 1000, false);
  m.done(2, 1000, false);
  let p = m.snapshot();
  assert.equal(p.bytesSent, 2000);
  assert.equal(p.partsDone, 2);
  assert.equal(p.bytesPerSecond, 0);
  assert.equal(p.etaSeconds, null);
  c.t += 1000;
  m.sending(3, 250);
  p = m.snapshot();
  assert.equal(p.bytesPerSecond, 250);
  assert.equal(p.etaSeconds, 3);
});
