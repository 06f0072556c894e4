// Starts the real audiodrop-server on loopback ports the kernel picks (it binds port 0
// and names the ports in its ready line, which is read here), with a temporary data
// directory, and hands out partner and user tokens. Mirrors tests/integration/harness.py.
// Every wait is bounded in time; nothing sleeps a fixed amount.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BASE_PATH = '/developer/api';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 30_000;

export function serverBinary() {
  return process.env.AUDIODROP_SERVER || resolve(here, '..', '..', '..', 'build', 'bin', 'audiodrop-server');
}

export class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.root = mkdtempSync(join(tmpdir(), 'audiodrop-jstest-'));
    this.dataDir = join(this.root, 'data');
    this.log = '';
    this.proc = undefined;
  }

  get apiUrl() {
    return `http://127.0.0.1:${this.port}${BASE_PATH}`;
  }

  async start() {
    const args = ['serve', '--listen', '127.0.0.1:0', '--storage-listen', '127.0.0.1:0',
      '--data-dir', this.dataDir, '--log-format', 'json', '--token-requests-per-minute', '1000',
      ...this.extraArgs];
    this.proc = spawn(serverBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise((resolveReady, reject) => {
      let pending = '';
      const timer = setTimeout(() => fail(new Error(`no ready line within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const fail = (e) => {
        clearTimeout(timer);
        reject(new Error(`${e.message}\n--- server log ---\n${this.log}`));
      };
      const onData = (chunk) => {
        const text = chunk.toString();
        this.log += text;
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop();  // a line still being written
        for (const line of lines) {
          let fields;
          try {
            fields = JSON.parse(line);
          } catch {
            continue;
          }
          if (fields && fields.msg === 'ready' && fields.api && fields.storage) {
            clearTimeout(timer);
            resolveReady(fields);
          }
        }
      };
      this.proc.stdout.on('data', onData);
      this.proc.stderr.on('data', onData);
      this.proc.once('error', fail);
      this.proc.once('exit', (code, sig) => fail(new Error(`server exited (${code ?? sig}) while starting`)));
    });
    this.port = Number(ready.api.split(':').pop());
    this.storagePort = Number(ready.storage.split(':').pop());
    return this;
  }

  /** SIGTERM, then SIGKILL if it lingers; the temp dir goes either way. */
  async stop() {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      let timer;
      const late = new Promise((r) => { timer = setTimeout(() => r('late'), STOP_TIMEOUT_MS); });
      if (await Promise.race([exited, late]) === 'late') {
        proc.kill('SIGKILL');
        await exited;
      }
      clearTimeout(timer);
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** `audiodrop-server partner create` on this server's data dir: {client_id, secret_key}. */
  createPartner(name = `partner-${randomBytes(4).toString('hex')}`) {
    return new Promise((resolveCred, reject) => {
      execFile(serverBinary(), ['partner', 'create', '--name', name, '--data-dir', this.dataDir],
        { timeout: 60_000 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`partner create: ${err.message}\n${stderr}`));
          try {
            resolveCred(JSON.parse(stdout.trim()));
          } catch (e) {
            reject(new Error(`partner create printed ${JSON.stringify(stdout)}: ${e.message}`));
          }
        });
    });
  }

  async partnerToken(cred) {
    const basic = Buffer.from(`${cred.client_id}:${cred.secret_key}`).toString('base64');
    const body = await this.json('/oauth/partner/access-token', { Authorization: `Basic ${basic}` });
    return body.access_token;
  }

  async userToken(partnerToken, userId = `user_${randomBytes(5).toString('hex')}`) {
    const body = await this.json('/open/partner/users/access-token',
      { Authorization: `Bearer ${partnerToken}`, 'Content-Type': 'application/json' },
      JSON.stringify({ user_id: userId }));
    return body.access_token;
  }

  /** A user token of a new partner's new user. */
  async newUserToken() {
    return this.userToken(await this.partnerToken(await this.createPartner()));
  }

  async json(path, headers, body) {
    const res = await fetch(this.apiUrl + path, {
      method: 'POST', headers, body, signal: timeoutSignal(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  }
}

export function timeoutSignal(ms) {
  const c = new AbortController();
  setTimeout(() => c.abort(), ms).unref();
  return c.signal;
}

/** A ResumeStorage in memory, as localStorage would be. */
export class MemoryStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

/** A fetch that records each request ({method, url, partNumber}) and lets `hook` answer
 *  instead of the network (return undefined to pass the request on). */
export function recordingFetch(hook = () => undefined) {
  const requests = [];
  const f = async (input, init = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    const pn = new URL(url).searchParams.get('partNumber');
    const req = { method, url, partNumber: pn === null ? undefined : Number(pn) };
    requests.push(req);
    const answer = await hook(req, () => fetch(input, init));
    return answer ?? fetch(input, init);
  };
  return { fetch: f, requests, puts: () => requests.filter((r) => r.method === 'PUT') };
}
