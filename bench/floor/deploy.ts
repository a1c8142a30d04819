/**
 * The floor: the fewest AWS calls that put a pipeline's new build into a stage stack through a change set,
 * with independent calls run together. No lock, no history, no verification beyond the checksum, no
 * notification: what a careful hand-written script must do at the least. The benchmark runs it as a fresh
 * process, bundled and minified like the handlers, and times event → ExecuteChangeSet at the emulator.
 *
 *   1. HeadObject the build (its SHA-256 names the release)
 *   2. CopyObject to the release key ‖ PutParameter (desired) ‖ CreateChangeSet
 *   3. DescribeChangeSet every FLOOR_POLL_MS until it is ready
 *   4. ExecuteChangeSet
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DescribeChangeSetCommand,
  ExecuteChangeSetCommand,
} from '@aws-sdk/client-cloudformation';
import { CopyObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const main = async (): Promise<void> => {
  const event = JSON.parse(readFileSync(need('FLOOR_EVENT'), 'utf8'));
  const bucket = need('FLOOR_BUCKET');
  const stack = need('FLOOR_STACK');
  const overrides = JSON.parse(need('FLOOR_OVERRIDES')) as Record<string, string>;
  const pollMs = Number(need('FLOOR_POLL_MS'));
  const executionId: string = event.detail['execution-id'];
  const buildKey = need('FLOOR_BUILD_KEY')
    .replace('{pipeline}', event.detail.pipeline)
    .replace('{executionId}', executionId);
  // An emulator endpoint serves buckets by path, as AWS does for path-style requests.
  const s3 = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
  const ssm = new SSMClient({});
  const cfn = new CloudFormationClient({});

  const head = await s3.send(
    new HeadObjectCommand({ Bucket: bucket, Key: buildKey, ChecksumMode: 'ENABLED' }),
  );
  const sha = Buffer.from(head.ChecksumSHA256 ?? '', 'base64').toString('hex');
  const releaseKey = `${need('FLOOR_RELEASE_PREFIX')}${sha}.zip`;
  const changeSetName = `floor-${executionId}`;
  const [, , created] = await Promise.all([
    s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: releaseKey,
        CopySource: `${bucket}/${buildKey}`,
        ChecksumAlgorithm: 'SHA256',
      }),
    ),
    ssm.send(
      new PutParameterCommand({
        Name: need('FLOOR_PARAMETER'),
        Value: releaseKey,
        Type: 'String',
        Overwrite: true,
      }),
    ),
    cfn.send(
      new CreateChangeSetCommand({
        StackName: stack,
        ChangeSetName: changeSetName,
        // CloudFormation reads the template from S3 itself: no call of ours.
        TemplateURL: `https://${bucket}.s3.${process.env.AWS_REGION}.amazonaws.com/${need('FLOOR_TEMPLATE_KEY')}`,
        Capabilities: ['CAPABILITY_IAM'],
        Parameters: [
          { ParameterKey: 'ArtifactKey', ParameterValue: releaseKey },
          ...Object.entries(overrides).map(([ParameterKey, ParameterValue]) => ({
            ParameterKey,
            ParameterValue,
          })),
        ],
      }),
    ),
  ]);
  for (;;) {
    await sleep(pollMs);
    const state = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    if (state.Status === 'CREATE_COMPLETE' && state.ExecutionStatus === 'AVAILABLE') break;
    if (state.Status === 'FAILED') throw new Error(`change set failed: ${state.StatusReason}`);
  }
  await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id }));
};

main().catch((error: unknown) => {
  const response = (error as { $response?: { statusCode?: number; reason?: string } }).$response;
  process.stderr.write(
    `floor failed: ${error instanceof Error ? error.message : String(error)}${response ? ` (HTTP ${response.statusCode})` : ''}\n${error instanceof Error ? error.stack : ''}\n`,
  );
  process.exitCode = 1;
});
