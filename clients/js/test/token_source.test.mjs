import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TokenSource } from '../dist/token_source.js';

test('the token is asked once and cached', async () => {
  let asked = 0;
  const t = new TokenSource(() => `t${++asked}`);
  assert.equal(await t.token(), 't1');
  assert.equal(await t.token(), 't1');
  assert.equal(asked, 1);
});

test('calls refused together share one renewal', async () => {
  let asked = 0;
  const t = new TokenSource(async () => `t${++asked}`);
  const refused = await t.token();
  const renewed = await Promise.all([t.renew(refused), t.renew(refused), t.renew(refused)]);
  assert.deepEqual(renewed, ['t2', 't2', 't2']);
  assert.equal(await t.renew(refused), 't2', 'a late 401 for the old token reuses the new one');
  assert.equal(asked, 2);
});

test('a failed ask is not cached', async () => {
  let asked = 0;
  const t = new TokenSource(() => {
    if (++asked === 1) throw new Error('backend down');
    return 'ok';
  });
  await assert.rejects(t.token(), /backend down/);
  assert.equal(await t.token(), 'ok');
});
