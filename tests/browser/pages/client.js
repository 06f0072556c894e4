// Runs @audiodrop/client (the bundle at /audiodrop-client.js) on the file chosen in
// #file and keeps what happened in window.uploadTest.state for drive.mjs to read:
// every progress event, the parts acknowledged, and the result or the error.
import { AudiodropClient, AudiodropError } from '/audiodrop-client.js';

const MAX_EVENTS = 10000; // progress events kept; the rest are only counted

const $ = (id) => document.getElementById(id);

function log(line) {
  $('log').textContent += line + '\n';
}

function describeError(err) {
  return {
    name: err?.name ?? typeof err,
    message: String(err?.message ?? err),
    isTypeError: err instanceof TypeError,
    isAudiodropError: err instanceof AudiodropError,
    status: err?.status ?? null,
    code: err?.code ?? null,
    // The client wraps a network failure (fetch's TypeError) as network_error.
    causeName: err?.cause?.name ?? null,
    causeIsTypeError: err?.cause instanceof TypeError,
  };
}

const state = {
  running: false,
  done: false,
  progress: [], // [bytesSent, bytesTotal, partsDone, partsTotal]
  progressEvents: 0,
  partsUploaded: [],
  result: null,
  error: null,
  elapsedMs: null, // from upload() to its result: what bench/browser_upload.py reports
};

// options: {baseUrl, token, concurrency, retry, resume, verifyMd5, filetype}
function start(options) {
  const file = $('file').files[0];
  if (!file) throw new Error('no file chosen');
  if (state.running) throw new Error('an upload is running');
  Object.assign(state, { running: true, done: false, progress: [], progressEvents: 0,
                         partsUploaded: [], result: null, error: null, elapsedMs: null });
  $('status').dataset.state = 'uploading';
  $('status').textContent = `uploading ${file.name} (${file.size} bytes)`;
  const client = new AudiodropClient({
    baseUrl: options.baseUrl,
    getToken: () => options.token,
    ...(options.retry ? { retry: options.retry } : {}),
  });
  const uploadOptions = {
    onProgress(p) {
      state.progressEvents += 1;
      if (state.progress.length < MAX_EVENTS) {
        state.progress.push([p.bytesSent, p.bytesTotal, p.partsDone, p.partsTotal]);
      }
      $('progress').value = p.bytesTotal ? p.bytesSent / p.bytesTotal : 0;
      $('percent').textContent = `${Math.floor(100 * $('progress').value)} %`;
    },
    onPartUploaded(partNumber) {
      state.partsUploaded.push(partNumber);
      log(`part ${partNumber} uploaded`);
    },
  };
  for (const key of ['filetype', 'concurrency', 'resume', 'verifyMd5']) {
    if (options[key] !== undefined) uploadOptions[key] = options[key];
  }
  const started = performance.now();
  client.upload(file, uploadOptions).then(
    (result) => {
      state.result = result;
      $('status').dataset.state = 'done';
      $('status').textContent = `done: ${result.FileId} md5 ${result.FileMd5}`;
    },
    (err) => {
      state.error = describeError(err);
      $('status').dataset.state = 'failed';
      $('status').textContent = `failed: ${state.error.name}: ${state.error.message}`;
    },
  ).finally(() => {
    state.elapsedMs = performance.now() - started;
    state.running = false;
    state.done = true;
  });
}

window.uploadTest = { state, start };
