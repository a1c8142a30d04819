import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AmbiguousWriteError, guardWrite, mayHaveLanded, writeOnce } from '../../shared/aws/single-writes';

/** An SSM client whose "network" answers from a script: each entry is one attempt's answer. */
const scriptedClient = (answers: (number | 'reset')[]) => {
  const seen: number[] = [];
  const client = new SSMClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
    maxAttempts: 5,
    retryMode: 'standard',
    requestHandler: {
      handle: async () => {
        const answer = answers[seen.length] ?? 200;
        seen.push(typeof answer === 'number' ? answer : 0);
        if (answer === 'reset') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        const body =
          answer === 200
            ? JSON.stringify({ Version: 7, Tier: 'Standard' })
            : JSON.stringify({
                __type: answer === 400 ? 'ThrottlingException' : 'InternalServerError',
                message: 'x',
              });
        return {
          response: {
            statusCode: answer,
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: Buffer.from(body),
          },
        };
      },
    },
  });
  return { client, seen };
};

const put = () => new PutParameterCommand({ Name: '/x', Value: 'v', Type: 'String', Overwrite: true });

describe('guarded writes', () => {
  it('are retried by the SDK when the failure proves nothing landed (throttling, 503)', async () => {
    const { client, seen } = scriptedClient([400, 503, 200]);
    const out = await client.send(guardWrite(put()));
    expect(out.Version).toBe(7);
    expect(seen).toEqual([400, 503, 200]);
  });

  it.each([[500], [502], ['reset' as const]])(
    'are not repeated after a failure that may have landed (%s)',
    async (answer) => {
      const { client, seen } = scriptedClient([answer, 200]);
      await expect(client.send(guardWrite(put()))).rejects.toBeInstanceOf(AmbiguousWriteError);
      expect(seen).toHaveLength(1);
    },
  );

  it('an unguarded write is repeated by the SDK after a 500 (why the guard exists)', async () => {
    const { client, seen } = scriptedClient([500, 200]);
    await client.send(put());
    expect(seen).toHaveLength(2);
  });
});

describe('writeOnce', () => {
  const ambiguous = () => new AmbiguousWriteError(Object.assign(new Error('boom'), { code: 'ECONNRESET' }));

  it('reads back after a lost answer and does not write again when the write landed', async () => {
    const write = jest.fn().mockRejectedValueOnce(ambiguous()).mockResolvedValue('second');
    const landed = jest.fn().mockResolvedValue('first');
    await expect(writeOnce('put', write, landed)).resolves.toBe('first');
    expect(write).toHaveBeenCalledTimes(1);
  });

  it('writes again when the read-back does not find the write', async () => {
    const write = jest.fn().mockRejectedValueOnce(ambiguous()).mockResolvedValue('second');
    const landed = jest.fn().mockResolvedValue(undefined);
    await expect(writeOnce('put', write, landed)).resolves.toBe('second');
    expect(write).toHaveBeenCalledTimes(2);
  });

  it('passes other failures through without reading back', async () => {
    const write = jest.fn().mockRejectedValue(new Error('AccessDenied'));
    const landed = jest.fn();
    await expect(writeOnce('put', write, landed)).rejects.toThrow('AccessDenied');
    expect(landed).not.toHaveBeenCalled();
  });

  it('gives up after a bounded number of lost answers', async () => {
    const write = jest.fn().mockRejectedValue(ambiguous());
    const landed = jest.fn().mockResolvedValue(undefined);
    await expect(writeOnce('put', write, landed)).rejects.toThrow(/lost 4 times/);
    // Each lost answer is read back twice (a reset can arrive before the write lands) before writing again.
    expect(landed).toHaveBeenCalledTimes(8);
    expect(write).toHaveBeenCalledTimes(4);
  }, 30_000);
});

describe('mayHaveLanded', () => {
  it.each([
    [{ $metadata: { httpStatusCode: 500 } }, true],
    [{ $metadata: { httpStatusCode: 503 } }, false],
    [{ $metadata: { httpStatusCode: 400 }, name: 'ThrottlingException' }, false],
    [{ code: 'ECONNREFUSED' }, false],
    [{ code: 'ECONNRESET' }, true],
    [{ name: 'TimeoutError' }, true],
  ])('%j → %s', (fields, expected) => {
    expect(mayHaveLanded(Object.assign(new Error('x'), fields))).toBe(expected);
  });
});
