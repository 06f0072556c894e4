// The Uppy Dashboard uploading through audiodrop: @uppy/aws-s3 does the part PUTs,
// audiodropUppyOptions() connects its multipart hooks to the API. Each finished file
// is listed as <li class="uploaded" data-file-id data-md5 data-download-url>, each
// failure as <li class="failed" data-error>.
import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';

import { AudiodropClient } from '../../src/index.js';
import { audiodropUppyOptions } from '../../src/uppy.js';

const params = new URLSearchParams(location.hash.slice(1));
const baseUrl = params.get('api') ?? `${location.origin}/developer/api`;
const token = params.get('token') ?? '';

const client = new AudiodropClient({ baseUrl, getToken: () => token });

const uppy = new Uppy({
  autoProceed: true,
  restrictions: {
    allowedFileTypes: ['.mp3', '.m4a', '.wav', '.opus', '.ogg', '.aac', '.flac', '.amr', '.webm'],
  },
})
  .use(Dashboard, { inline: true, target: '#dashboard', height: 360, proudlyDisplayPoweredByUppy: false })
  .use(AwsS3, audiodropUppyOptions({ client }));

const list = document.getElementById('uploaded') as HTMLUListElement;

uppy.on('upload-success', (file, response) => {
  const body = response.body as { FileId?: string; FileMd5?: string; DownloadUrl?: string } | undefined;
  const item = document.createElement('li');
  item.className = 'uploaded';
  item.dataset.fileId = body?.FileId ?? '';
  item.dataset.md5 = body?.FileMd5 ?? '';
  item.dataset.downloadUrl = body?.DownloadUrl ?? '';
  const link = document.createElement('a');
  link.href = body?.DownloadUrl ?? '#';
  link.textContent = `${file?.name}: ${body?.FileId} (MD5 ${body?.FileMd5})`;
  item.append(link);
  list.append(item);
});

uppy.on('upload-error', (file, error) => {
  const item = document.createElement('li');
  item.className = 'failed';
  item.dataset.error = error.message;
  item.textContent = `${file?.name}: ${error.message}`;
  list.append(item);
});
