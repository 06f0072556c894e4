// A tus 1.0 server: @tus/server with @tus/file-store, on 127.0.0.1 at a port the
// kernel picks. Prints {"port": N} on stdout once it listens.
//   node tus-server.mjs DIRECTORY
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node tus-server.mjs DIRECTORY');
  process.exit(2);
}

const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const http = tus.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: http.address().port }));
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => http.close(() => process.exit(0)));
}
