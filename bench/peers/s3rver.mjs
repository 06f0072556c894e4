// s3rver on 127.0.0.1 at a port the kernel picks, keeping objects in DIRECTORY,
// with BUCKET created. Prints {"port": N} on stdout once it listens.
// Its account is S3RVER / S3RVER.
//   node s3rver.mjs DIRECTORY BUCKET
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: node s3rver.mjs DIRECTORY BUCKET');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
const address = await server.run();
console.log(JSON.stringify({ port: address.port }));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
