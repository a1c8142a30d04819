/**
 * Correlation keys on every log line: the event id for a whole invocation (Powertools appendKeys, reset
 * before and after), the stage for the work on one stage, concurrent stages included; nothing of one
 * invocation left on the lines of the next.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as DeployHandler from '../../handlers/deploy';
import type * as LoggerModule from '../../shared/logger';
import { ACCOUNT, LEDGER_TABLE, REGION, ROOT, TOPIC_ARN } from './helpers/fixtures';

type Line = Record<string, unknown> & { message: string };

/** Every JSON line the logger writes while `work` runs. */
const linesOf = async (work: () => Promise<unknown>): Promise<Line[]> => {
  const written: string[] = [];
  const capture = (chunk: unknown): boolean => {
    written.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await work().catch(() => undefined);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
};

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

/** A fresh logger module, logging at INFO. */
const freshLogger = (): typeof LoggerModule => {
  process.env.LOG_LEVEL = 'INFO';
  let loaded: typeof LoggerModule | undefined;
  jest.isolateModules(() => {
    loaded = require('../../shared/logger') as typeof LoggerModule;
  });
  if (!loaded) throw new Error('shared/logger did not load');
  return loaded;
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('withLogKeys', () => {
  it('puts its keys on the lines logged inside, and only there', async () => {
    const { logger, withLogKeys } = freshLogger();
    const lines = await linesOf(async () => {
      logger.info('before');
      await withLogKeys({ stage: 'dev' }, async () => {
        await tick();
        logger.info('inside', { extra: 1 });
      });
      logger.info('after');
    });
    expect(lines.map((l) => [l.message, l.stage, l.extra])).toEqual([
      ['before', undefined, undefined],
      ['inside', 'dev', 1],
      ['after', undefined, undefined],
    ]);
  });

  it('keeps concurrent stages apart, and nested keys add to the outer ones', async () => {
    const { logger, withLogKeys } = freshLogger();
    const stageWork = (stage: string) =>
      withLogKeys({ stage }, async () => {
        logger.info('start');
        await tick();
        await withLogKeys({ step: 'reconcile' }, async () => {
          await tick();
          logger.warn('middle');
        });
        logger.info('end');
      });
    const lines = await linesOf(() => Promise.all([stageWork('dev'), stageWork('prod')]));
    expect(lines).toHaveLength(6);
    for (const stage of ['dev', 'prod']) {
      expect(lines.filter((l) => l.stage === stage).map((l) => [l.message, l.step])).toEqual([
        ['start', undefined],
        ['middle', 'reconcile'],
        ['end', undefined],
      ]);
    }
  });

  it("lets a call's own attributes win over the scope's", async () => {
    const { logger, withLogKeys } = freshLogger();
    const lines = await linesOf(() =>
      withLogKeys({ stage: 'dev' }, async () => logger.info('promoting', { stage: 'prod' })),
    );
    expect(lines[0]?.stage).toBe('prod');
  });
});

describe('logInvocation', () => {
  it('puts the event id on every line of the invocation, stage work included, and on none after', async () => {
    const { logger, logInvocation, withLogKeys } = freshLogger();
    const lines = await linesOf(async () => {
      await logInvocation({ id: 'event-1' }, undefined, async () => {
        logger.info('one');
        await withLogKeys({ stage: 'dev' }, async () => logger.error('two', new Error('boom')));
      });
      logger.info('between');
    });
    expect(lines.map((l) => [l.message, l.eventId, l.stage])).toEqual([
      ['one', 'event-1', undefined],
      ['two', 'event-1', 'dev'],
      ['between', undefined, undefined],
    ]);
    expect(lines[1]?.error).toMatchObject({ message: 'boom' });
  });

  it('leaves nothing to the next invocation, whether the first returned or threw', async () => {
    const { logger, logInvocation } = freshLogger();
    const lines = await linesOf(async () => {
      await logInvocation({ id: 'returned' }, undefined, async () => {
        logger.appendKeys({ leftover: 'from the first' });
        logger.info('first');
      });
      await logInvocation({ id: 'threw' }, undefined, async () => {
        logger.info('second');
        throw new Error('failed');
      }).catch(() => undefined);
      // An event without an id (a hand-made test event) carries none, not the previous one.
      await logInvocation({ detail: {} }, undefined, async () => logger.info('third'));
    });
    expect(lines.map((l) => [l.message, l.eventId, l.leftover])).toEqual([
      ['first', 'returned', 'from the first'],
      ['second', 'threw', undefined],
      ['third', undefined, undefined],
    ]);
  });

  it('takes only a string id, shortened, from an event not yet validated', async () => {
    const { logger, logInvocation } = freshLogger();
    const lines = await linesOf(async () => {
      await logInvocation({ id: { nested: true } }, undefined, async () => logger.info('object id'));
      await logInvocation({ id: 'x'.repeat(5000) }, undefined, async () => logger.info('long id'));
      await logInvocation('not an object', undefined, async () => logger.info('no envelope'));
    });
    expect(lines.map((l) => l.eventId)).toEqual([undefined, 'x'.repeat(128), undefined]);
  });
});

describe('the handlers', () => {
  it("correlate each invocation's lines with its own event id", async () => {
    Object.assign(process.env, {
      LOG_LEVEL: 'INFO',
      AWS_REGION: REGION,
      DEPLOYER_ACCOUNT_ID: ACCOUNT,
      DEPLOYER_TOPIC_ARN: TOPIC_ARN,
      DEPLOYER_LEDGER_TABLE: LEDGER_TABLE,
    });
    delete process.env.DEPLOYER_CONFIG_FILE;
    let handler: typeof DeployHandler.handler | undefined;
    jest.isolateModules(() => {
      ({ handler } = require('../../handlers/deploy') as typeof DeployHandler);
    });
    if (!handler) throw new Error('handlers/deploy did not load');
    const deploy = handler;
    // Events the handler answers without a call to AWS: a started execution, and one from another account.
    const started = JSON.parse(readFileSync(join(ROOT, 'events', 'pipeline-started.json'), 'utf8'));
    const foreign = { ...started, id: 'second-event', account: '999999999999' };
    const lines = await linesOf(async () => {
      await deploy({ ...started, id: 'first-event' });
      await deploy(foreign);
    });
    expect(lines.map((l) => [l.message, l.eventId])).toEqual([
      ['pipeline state is not SUCCEEDED; nothing to deploy', 'first-event'],
      ['deploy event handled', 'first-event'],
      ['rejected pipeline event', 'second-event'],
      ['deploy event handled', 'second-event'],
    ]);
  });
});
