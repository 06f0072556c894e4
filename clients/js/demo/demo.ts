// The demo upload page the server serves at /demo/ with --demo (src/http/demo_page.cpp).
// Drop or pick audio files; each uploads with @audiodrop/client, shows its progress and
// can be cancelled, then shows its FileId, FileMd5 and DownloadUrl and plays it back
// (the player streams the DownloadUrl with Range requests from the storage endpoint).
//
// The user token comes from the URL fragment (#token=…, which browsers never send to a
// server), else from the field on the page; it is kept in sessionStorage, so it lasts as
// long as the tab. The API's base path comes from <meta name="audiodrop-api-base">.
//
// What a browser test can rely on (keep these stable):
//   input#file                      type=file, multiple: picking files starts their uploads
//   #drop                           the drop zone (drop events with files start uploads)
//   input#token, button#token-save  paste a token and use it (form#token-section submits);
//                                   button#token-forget clears it
//   #token-status                   whether a token is set
//   #page-error                     a page-wide error (no token, unreadable drop), else hidden
//   #uploads > li.upload            one per file, in the order they were given, with
//     [data-file-name="<name>"]       the file's name
//     [data-state]                    uploading | done | error | cancelled
//     progress.upload-progress        value = bytes sent, max = file size
//     .upload-stats                   bytes, rate, time left, parts
//     button.cancel                   cancels (AbortSignal); disabled once the upload ends
//     .upload-error                   "code: message" of the failure (state error)
//     .result-file-id, .result-md5    FileId and FileMd5 once done
//     a.result-download               href = DownloadUrl
//     audio.result-audio              src = DownloadUrl, with controls

import { AudiodropClient, AudiodropError } from '../src/index.js';
import type { UploadProgress } from '../src/index.js';

const kTokenKey = 'audiodrop-demo-token';
// What the page holds when opened without the server (the marker was not replaced).
const kApiBaseMarker = '__AUDIODROP_API_BASE__';
const kDefaultApiBase = '/developer/api';

type State = 'uploading' | 'done' | 'error' | 'cancelled';

function element<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
}

// --- The token -----------------------------------------------------------------------

let token = '';

function setToken(value: string): void {
  token = value.trim();
  try {
    if (token) sessionStorage.setItem(kTokenKey, token);
    else sessionStorage.removeItem(kTokenKey);
  } catch {
    // Storage may be disabled; the token then lasts until the page is left.
  }
  element<HTMLInputElement>('#token').value = token;
  element('#token-status').textContent = token
    ? 'A token is set for this tab.'
    : 'No token yet: paste a user access token (POST /open/partner/users/access-token mints one).';
}

// A #token=… fragment wins over what the tab kept; it is then taken off the address bar,
// so it does not linger on screen or in the history.
function tokenFromFragment(): string | null {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const value = fragment.get('token');
  if (value === null) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return value;
}

function storedToken(): string {
  try {
    return sessionStorage.getItem(kTokenKey) ?? '';
  } catch {
    return '';
  }
}

// --- Formatting ----------------------------------------------------------------------

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatSeconds(s: number): string {
  const whole = Math.ceil(s);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${whole % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function describeProgress(p: UploadProgress): string {
  const parts = [`${formatBytes(p.bytesSent)} of ${formatBytes(p.bytesTotal)}`];
  if (p.bytesPerSecond > 0) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (p.etaSeconds !== null && p.bytesSent < p.bytesTotal) {
    parts.push(`${formatSeconds(p.etaSeconds)} left`);
  }
  parts.push(`part ${p.partsDone} of ${p.partsTotal} done`);
  return parts.join(' · ');
}

// An error as its user can act on it: the API's code and message.
function describeError(e: unknown): string {
  if (e instanceof AudiodropError) {
    const status = e.status ? ` (HTTP ${e.status})` : '';
    const hint = e.status === 401 ? ' — paste a fresh user token above and try again' : '';
    return `${e.code}${status}: ${e.message}${hint}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

// "Recording.MP3" → "mp3"; "" when the name has no extension.
function filetypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : '';
}

// --- Uploads -------------------------------------------------------------------------

function apiBaseUrl(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="audiodrop-api-base"]');
  const base = meta && meta.content && meta.content !== kApiBaseMarker ? meta.content : kDefaultApiBase;
  return new URL(base, location.href).href;
}

const client = new AudiodropClient({
  baseUrl: apiBaseUrl(),
  getToken: () => {
    if (!token) throw new AudiodropError(0, 'missing_token', 'no user token: paste one above');
    return token;
  },
});

// One file's row, and the upload behind it.
class UploadRow {
  readonly row: HTMLLIElement;
  private readonly controller = new AbortController();

  constructor(readonly file: File, index: number) {
    const template = element<HTMLTemplateElement>('#upload-template');
    this.row = template.content.firstElementChild!.cloneNode(true) as HTMLLIElement;
    this.row.dataset.fileName = file.name;
    this.row.dataset.index = String(index);
    this.part('.upload-name').textContent = file.name;
    const bar = this.part<HTMLProgressElement>('progress.upload-progress');
    bar.max = Math.max(file.size, 1);
    this.part('.upload-stats').textContent = formatBytes(file.size);
    this.part<HTMLButtonElement>('button.cancel').addEventListener('click', () => {
      this.controller.abort();
    });
    this.setState('uploading');
  }

  async run(): Promise<void> {
    const filetype = filetypeOf(this.file.name);
    if (!filetype) {
      this.fail('the file name has no extension to take the filetype from (e.g. .mp3)');
      return;
    }
    try {
      const done = await client.upload(this.file, {
        filetype,
        signal: this.controller.signal,
        onProgress: (p) => this.progress(p),
      });
      this.part<HTMLProgressElement>('progress.upload-progress').value = this.file.size;
      this.part('.result-file-id').textContent = done.FileId;
      this.part('.result-md5').textContent = done.FileMd5;
      const link = this.part<HTMLAnchorElement>('a.result-download');
      link.href = done.DownloadUrl;
      link.textContent = done.DownloadUrl;
      const audio = this.part<HTMLAudioElement>('audio.result-audio');
      audio.src = done.DownloadUrl;
      audio.hidden = false;
      this.part('.result').hidden = false;
      this.setState('done');
    } catch (e) {
      if (isAbort(e) || this.controller.signal.aborted) {
        this.part('.upload-stats').textContent = 'Cancelled; the upload was aborted on the server.';
        this.setState('cancelled');
      } else {
        this.fail(describeError(e));
      }
    }
  }

  private progress(p: UploadProgress): void {
    this.part<HTMLProgressElement>('progress.upload-progress').value = p.bytesSent;
    this.part('.upload-stats').textContent = describeProgress(p);
  }

  private fail(message: string): void {
    const error = this.part('.upload-error');
    error.textContent = message;
    error.hidden = false;
    this.setState('error');
  }

  private setState(state: State): void {
    this.row.dataset.state = state;
    this.part('.upload-state').textContent = state;
    this.part<HTMLButtonElement>('button.cancel').disabled = state !== 'uploading';
  }

  private part<T extends Element = HTMLElement>(selector: string): T {
    return element<T>(selector, this.row);
  }
}

let uploadsStarted = 0;

function showPageError(message: string): void {
  const error = element('#page-error');
  error.textContent = message;
  error.hidden = message === '';
}

function startUploads(files: Iterable<File>): void {
  const list = [...files];
  if (list.length === 0) return;
  if (!token) {
    showPageError('Paste a user access token first (or open this page with #token=…).');
    element<HTMLInputElement>('#token').focus();
    return;
  }
  showPageError('');
  const uploads = element('#uploads');
  for (const file of list) {
    const row = new UploadRow(file, uploadsStarted++);
    uploads.append(row.row);
    void row.run();
  }
}

// --- Wiring --------------------------------------------------------------------------

function wire(): void {
  element('#api-base').textContent = apiBaseUrl();
  setToken(tokenFromFragment() ?? storedToken());
  window.addEventListener('hashchange', () => {
    const fromFragment = tokenFromFragment();
    if (fromFragment !== null) setToken(fromFragment);
  });
  // "Use" and Enter in the field submit the form, which never leaves the page.
  element('#token-section').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(element<HTMLInputElement>('#token').value);
  });
  element('#token-forget').addEventListener('click', () => setToken(''));

  const picker = element<HTMLInputElement>('#file');
  picker.addEventListener('change', () => {
    startUploads(picker.files ?? []);
    picker.value = '';  // so that picking the same file again starts another upload
  });

  const drop = element<HTMLElement>('#drop');
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      picker.click();
    }
  });
  drop.addEventListener('dragenter', (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  drop.addEventListener('dragleave', (e) => {
    if (e.target === drop) drop.classList.remove('dragging');
  });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    startUploads(e.dataTransfer?.files ?? []);
  });
  // A file dropped beside the zone would otherwise replace the page with the file.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (e) => e.preventDefault());
  }
}

wire();
