import { PutObjectCommand, DeleteObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createWorld, destroyWorld, enableVersioning } from './helpers/world';
import { parseConfig } from '../../shared/config';

jest.setTimeout(60000);
it('probe', async () => {
  const w = await createWorld();
  await enableVersioning(w);
  const s3 = w.clients.s3;
  const r1 = await s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'lock', Body: 'a', IfNoneMatch: '*' }));
  console.log('put1', r1.ETag);
  await s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'lock' }));
  try {
    const r2 = await s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: 'lock', Body: 'b', IfNoneMatch: '*' }));
    console.log('put2 ok', r2.ETag);
  } catch (e) { console.log('put2 failed', (e as Error).name); }
  const v = await s3.send(new ListObjectVersionsCommand({ Bucket: w.bucket }));
  console.log(JSON.stringify({ v: v.Versions?.map((x) => [x.Key, x.VersionId, x.ETag]), d: v.DeleteMarkers?.map((x) => [x.Key, x.VersionId]) }));
  try { const c = parseConfig(`pipelines:\n  __proto__:\n    stages:\n      dev:\n        stack: a\n        ssmParameter: /a/b\n        artifact: {bucket: abc, key: a.zip}\n        releasePrefix: r/\n`); console.log('yaml proto', Object.keys(c.pipelines)); } catch (e) { console.log((e as Error).message); }
  destroyWorld(w);
});
