// Bundles what pages load, dependencies included, into one directory (default
// dist/web): the client as one ES module, the server's demo page script, and the Uppy
// example page. The server build embeds the demo files from there.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] ?? join(here, 'dist', 'web');
const common = {
  absWorkingDir: here,
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  outdir,
};

await mkdir(outdir, { recursive: true });
await Promise.all([
  build({ ...common, entryPoints: { 'audiodrop-client': 'src/index.ts' } }),
  build({ ...common, entryPoints: { demo: 'demo/demo.ts' } }),
  build({ ...common, entryPoints: { 'uppy-example': 'examples/uppy/main.ts' } }),
  copyFile(join(here, 'demo', 'index.html'), join(outdir, 'demo.html')),
  copyFile(join(here, 'examples', 'uppy', 'index.html'), join(outdir, 'uppy-example.html')),
]);
