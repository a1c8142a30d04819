/**
 * The hostile table, deploy handler: pipeline events that are malformed, mistyped, huge, unicode, carry
 * control characters or path tricks, come from another account or region, name an unknown pipeline or a
 * prototype key, or are not pipeline events at all. See hostile-cases.ts for what a case is.
 */
import { randomUUID } from 'node:crypto';
import { scheduleEvent } from '../../integration/helpers/stack-events';
import {
  ACCOUNT,
  deepObject,
  type HostileCase,
  huge,
  notEventCases,
  OTHER_ACCOUNT,
  OTHER_REGION,
  type PipelineEventShape,
  REGION,
} from './hostile-cases';

export const DEPLOY_CASES: HostileCase[] = [
  ...notEventCases('deploy'),
  {
    what: 'the valid event JSON-encoded twice (a string)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => JSON.stringify(c.pipeline()),
  },
  {
    what: 'no detail',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.pipeline((e) => delete (e as Record<string, unknown>).detail),
  },
  {
    what: 'no execution-id',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.pipeline((e) => delete e.detail['execution-id']),
  },
  {
    what: 'a mistyped execution-id (a number)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = 123456;
      }),
  },
  {
    what: 'a mistyped account (a number)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.account = Number(ACCOUNT);
      }),
  },
  {
    what: 'a mistyped detail (a string)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail = 'SUCCEEDED' as unknown as PipelineEventShape['detail'];
      }),
  },
  {
    what: 'a 1 MB pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = huge('p');
      }),
  },
  {
    what: 'a 1 MB commit message',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-trigger']['commit-message'] = huge('lorem ipsum ');
      }),
  },
  {
    what: 'a 1 MB event id of emoji',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.id = huge('🚀');
      }),
  },
  {
    what: 'an emoji pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `${c.world.pipeline}-🚀`;
      }),
  },
  {
    what: 'a look-alike pipeline name (Cyrillic і)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = c.world.pipeline.replace('i', 'і');
      }),
  },
  {
    what: 'control characters in the execution id',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `${randomUUID()}\u0000\u001b[2J`;
      }),
  },
  {
    what: "an execution id with '../'",
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `../../${randomUUID()}`;
      }),
  },
  {
    what: 'an execution id with spaces',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `${randomUUID()} ${randomUUID()}`;
      }),
  },
  {
    what: 'a commit id with a newline',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-trigger']['commit-id'] = `${'a'.repeat(40)}\nrm -rf /`;
      }),
  },
  {
    what: 'a state with a trailing newline',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.state = 'SUCCEEDED\n';
      }),
  },
  {
    what: 'a start-time that is not a time',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['start-time'] = '2026-02-30T25:61:00Z';
      }),
  },
  {
    what: 'another account',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'another region',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'a region with a path in it',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.region = `${REGION}/../${OTHER_REGION}`;
      }),
  },
  {
    what: 'a wrong source (a custom event posing as CodePipeline)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.source = 'custom.attacker';
      }),
  },
  {
    what: "a pipeline name with '/' and '..'",
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `${c.world.pipeline}/../${c.world.pipeline}`;
      }),
  },
  {
    what: 'a pipeline ARN as the pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `arn:aws:codepipeline:${REGION}:${ACCOUNT}:${c.world.pipeline}`;
      }),
  },
  {
    what: 'a pipeline name with spaces',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = ` ${c.world.pipeline} `;
      }),
  },
  {
    what: 'an unknown pipeline',
    handler: 'deploy',
    verdict: 'ignored',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `unknown-${c.world.id}`;
      }),
  },
  ...['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'].map(
    (name): HostileCase => ({
      what: `${name} as the pipeline name`,
      handler: 'deploy',
      verdict: 'ignored',
      event: (c) =>
        c.pipeline((e) => {
          e.detail.pipeline = name;
        }),
    }),
  ),
  {
    what: 'a "__proto__" key (as JSON.parse makes it) smuggling the pipeline and polluting prototypes',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => {
      const event = c.pipeline((e) => delete e.detail.pipeline);
      const text = JSON.stringify(event)
        .replace('{', '{"__proto__": {"polluted": "yes"}, ')
        .replace('"detail":{', `"detail":{"__proto__": {"pipeline": ${JSON.stringify(c.world.pipeline)}}, `);
      return JSON.parse(text) as unknown;
    },
    also: () => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('pipeline');
    },
  },
  {
    what: 'an unknown pipeline with a 10,000-level deep extra field',
    handler: 'deploy',
    verdict: 'ignored',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `unknown-${c.world.id}`;
        e.detail.extra = deepObject(10_000);
      }),
  },
  {
    what: 'a stack status change sent to the deploy handler',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.status(),
  },
  {
    what: 'the schedule event sent to the deploy handler',
    handler: 'deploy',
    verdict: 'rejected',
    event: () => scheduleEvent(),
  },
];
