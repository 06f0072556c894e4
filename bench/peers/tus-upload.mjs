// Uploads one file, streamed from disk, with tus-js-client to a tus endpoint.
// Prints {"seconds": S, "url": U}: S runs from the creation request to the
// server's acknowledgement of the last byte (Node's start-up is left out).
//   node tus-upload.mjs ENDPOINT FILE
import fs from 'node:fs';
import { Upload } from 'tus-js-client';

const [endpoint, file] = process.argv.slice(2);
if (!endpoint || !file) {
  console.error('usage: node tus-upload.mjs ENDPOINT FILE');
  process.exit(2);
}

const start = process.hrtime.bigint();
const upload = new Upload(fs.createReadStream(file), {
  endpoint,
  metadata: { filename: 'recording.bin' },
  // One failure is a failed measurement, not something to retry through.
  retryDelays: null,
  onError(error) {
    console.error(`tus upload failed: ${error}`);
    process.exit(1);
  },
  onSuccess() {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({ seconds, url: upload.url }));
  },
});
upload.start();
