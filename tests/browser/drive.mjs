// Drives Debian's headless Chromium through one browser-test scenario with
// playwright-core (tests/browser/node_modules, pinned by package-lock.json).
//
//   node drive.mjs <scenario> '<JSON args>'
//
// Prints one JSON object a line on stdout: {"checkpoint": name, ...} where the
// scenario waits for a line on stdin (so the Python test can look at the server in
// between), then {"result": {...}}, or {"error": "..."} with exit code 1. Always
// saves a screenshot of the page to args.screenshot, failure or not. Every wait has a
// timeout (args.timeoutMs, default 60 s); the browser only ever talks to 127.0.0.1.
//
// Scenarios (their args and results are documented on each function below):
//   client   tests/browser/pages/client.html uploads the chosen file via @audiodrop/client
//   uppy     the Uppy example page uploads the chosen file
//   demo     the server's own demo page (--demo) uploads the chosen file and plays it
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

// Without these Chromium reaches out to Google hosts (no outside network here) and
// stalls; the sandbox needs user namespaces the test machines may not give.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const MAX_CONSOLE = 200; // console messages kept for the result

const [scenarioName, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson ?? '{}');
const timeout = args.timeoutMs ?? 60_000;

function emit(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

// Lines from the test on stdin, one per checkpoint.
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function checkpoint(name, data = {}) {
  emit({ checkpoint: name, ...data });
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no go from the test at ${name}`)), timeout);
  });
  try {
    const { done } = await Promise.race([stdinLines.next(), expired]);
    if (done) throw new Error(`stdin closed at checkpoint ${name}`);
  } finally {
    clearTimeout(timer);
  }
}

// What the page and the network did, for every scenario.
function observe(page) {
  const seen = { console: [], pageErrors: [], puts: [], phase: 1 };
  page.on('console', (msg) => {
    if (seen.console.length < MAX_CONSOLE) {
      seen.console.push({ type: msg.type(), text: msg.text(), phase: seen.phase });
    }
  });
  page.on('pageerror', (err) => seen.pageErrors.push(String(err)));
  // Every PUT the page starts (part uploads), with the part number from the
  // presigned URL, and how it ended: an HTTP status, or the failure text.
  const putOf = new WeakMap();
  page.on('request', (request) => {
    if (request.method() !== 'PUT') return;
    const url = new URL(request.url());
    const put = {
      phase: seen.phase,
      partNumber: Number(url.searchParams.get('partNumber')),
      origin: url.origin,
      path: url.pathname,
      status: null,
      failure: null,
    };
    seen.puts.push(put);
    request.response().then(
      (response) => { if (response) put.status = response.status(); },
      () => {},
    );
    putOf.set(request, put);
  });
  page.on('requestfailed', (request) => {
    const put = putOf.get(request);
    if (put) put.failure = request.failure()?.errorText ?? 'failed';
  });
  return seen;
}

// client: args {pageUrl, file, upload: {baseUrl, token, concurrency?, retry?, ...},
// hold?: [part numbers whose PUTs never get through], holdSeen?: [the held parts to
// wait for], reloadAfterPart?: n}.
// With `hold`, those parts' PUTs are held (page.route, never continued); with
// `reloadAfterPart`, once part n is acknowledged the test gets checkpoint
// "before-reload", then the page reloads, the routes go and the same file is chosen
// and uploaded again. Result: the page's state (result or error, progress, parts
// acknowledged) after the last upload, the PUTs seen, console messages.
async function clientScenario(page, seen) {
  const held = [];
  if (args.hold?.length) {
    const hold = new Set(args.hold);
    const partOf = (url) => Number(new URL(url).searchParams.get('partNumber'));
    // The handler neither continues nor aborts: the request stays paused.
    await page.route((url) => hold.has(partOf(url)),
                     (route) => { held.push(partOf(route.request().url())); });
  }
  await openClientPage(page);
  await page.evaluate((options) => window.uploadTest.start(options), args.upload);
  if (args.reloadAfterPart) {
    await page.waitForFunction(
      (n) => window.uploadTest.state.partsUploaded.includes(n)
        || window.uploadTest.state.done,
      args.reloadAfterPart, { timeout });
    const before = await page.evaluate(() => window.uploadTest.state);
    // Finished before the reload: the hold did not hold. The test says so.
    if (before.done) return { ...before, held, reloaded: false };
    // Wait until the parts in args.holdSeen are paused in the browser, so the reload
    // is known to cut those uploads in flight.
    const seenHeld = args.holdSeen ?? [];
    await waitUntil(() => seenHeld.every((n) => held.includes(n)),
                    `PUTs of parts ${seenHeld} to be held`);
    await checkpoint('before-reload',
                     { partsUploaded: before.partsUploaded, held, puts: seen.puts });
    // Reload first, routes still on: the held PUTs die with the old document. Removing
    // the routes before would let Chromium send them (Fetch.disable continues every
    // paused request), and the server would get a part the test means to be missing.
    seen.phase = 2;
    await page.reload();
    // Now the routes go, and with them Playwright's stand-in answers to preflights:
    // the upload after the reload meets the server's own CORS.
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    await openClientPage(page, true);
    await page.evaluate((options) => window.uploadTest.start(options), args.upload);
  }
  await page.waitForFunction(() => window.uploadTest.state.done, null, { timeout });
  const state = await page.evaluate(() => window.uploadTest.state);
  return { ...state, held, reloaded: Boolean(args.reloadAfterPart) };
}

async function openClientPage(page, again = false) {
  if (!again) await open(page, args.pageUrl);
  await page.waitForFunction(() => window.uploadTest !== undefined, null, { timeout });
  await page.setInputFiles('#file', args.file);
}

// uppy: args {pageUrl (the example page with #api=…&token=…), file}.
// Result: the attributes of every li in ul#uploaded once one is there.
async function uppyScenario(page) {
  await open(page, args.pageUrl);
  const input = page.locator('input.uppy-Dashboard-input').first();
  await input.waitFor({ state: 'attached', timeout });
  await input.setInputFiles(args.file);
  await page.locator('ul#uploaded li').first().waitFor({ state: 'attached', timeout });
  const items = await page.$$eval('ul#uploaded li', (lis) => lis.map((li) => ({
    className: li.className,
    fileId: li.dataset.fileId ?? null,
    md5: li.dataset.md5 ?? null,
    downloadUrl: li.dataset.downloadUrl ?? null,
    error: li.dataset.error ?? null,
    text: li.textContent,
  })));
  return { items };
}

// demo: args {pageUrl (<api origin>/demo/#token=…), file, fileName}.
// Waits for the file's element to leave data-state=uploading; once done, for its
// <audio> to load its metadata (the storage listener serves it with Range).
// Result: the element's state, file id, MD5, download href, audio duration and error.
async function demoScenario(page) {
  await open(page, args.pageUrl);
  const input = page.locator('input#file');
  await input.waitFor({ state: 'attached', timeout });
  await input.setInputFiles(args.file);
  await page.waitForFunction(
    (name) => [...document.querySelectorAll('[data-file-name]')].some(
      (el) => el.dataset.fileName === name && el.dataset.state !== 'uploading'),
    args.fileName, { timeout });
  const item = page.locator(`[data-file-name=${JSON.stringify(args.fileName)}]`);
  const state = await item.getAttribute('data-state');
  const out = { state, text: await item.innerText() };
  if (state !== 'done') return out;
  out.fileId = (await item.locator('.result-file-id').textContent())?.trim();
  out.md5 = (await item.locator('.result-md5').textContent())?.trim();
  out.downloadHref = await item.locator('a.result-download').getAttribute('href');
  const audio = item.locator('audio.result-audio');
  out.audioSrc = await audio.getAttribute('src');
  // loadedmetadata has happened once readyState is HAVE_METADATA (1) or more.
  await audio.evaluate((el, ms) => new Promise((resolve, reject) => {
    if (el.readyState >= 1) { resolve(); return; }
    const timer = setTimeout(() => reject(new Error('no loadedmetadata')), ms);
    el.addEventListener('loadedmetadata', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
    el.addEventListener('error', () => {
      clearTimeout(timer);
      reject(new Error(`audio error ${el.error?.code}`));
    }, { once: true });
    if (el.preload === 'none') el.load();
  }), timeout);
  out.duration = await audio.evaluate((el) => el.duration);
  await item.scrollIntoViewIfNeeded();
  return out;
}

// Goes to `url`; a page the server does not have fails at once, not at a timeout.
async function open(page, url) {
  const response = await page.goto(url);
  if (response && !response.ok()) {
    const body = (await response.text().catch(() => '')).slice(0, 500);
    throw new Error(`${url.split('#')[0]} answered ${response.status()}: ${body}`);
  }
}

async function waitUntil(predicate, what) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const scenarios = { client: clientScenario, uppy: uppyScenario, demo: demoScenario };

async function main() {
  const scenario = scenarios[scenarioName];
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}`);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.setDefaultTimeout(timeout);
    const page = await context.newPage();
    const seen = observe(page);
    let outcome;
    try {
      outcome = await scenario(page, seen);
    } finally {
      if (args.screenshot) {
        await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
      }
    }
    const { phase, ...observed } = seen;
    emit({ result: { ...outcome, ...observed } });
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ error: String(err?.stack ?? err) });
    process.exit(1);
  },
);
