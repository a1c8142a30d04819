import { EVENT_TEXT_LIMIT, parsePipelineEvent } from '../../shared/edge/events';
import { EventValidationError, PermanentError } from '../../shared/errors';
import { executionLabel } from '../../shared/names';
import { loadEvent, loose, SAMPLE, type SampleEvent, thrownBy } from './helpers/fixtures';

/** The EventValidationError a raw event fails with. */
const rejectionOf = (raw: unknown): EventValidationError => {
  const error = thrownBy(() => parsePipelineEvent(raw));
  expect(error).toBeInstanceOf(EventValidationError);
  return error as EventValidationError;
};

const changed = (change: (event: SampleEvent) => void): SampleEvent => {
  const event = loadEvent('pipeline-succeeded');
  change(event);
  return event;
};

const succeeds = (run: () => unknown): boolean => {
  try {
    run();
    return true;
  } catch {
    return false;
  }
};

describe('parsePipelineEvent: valid events', () => {
  it('parses the SUCCEEDED sample into the execution the deployer works with', () => {
    expect(parsePipelineEvent(loadEvent('pipeline-succeeded'))).toEqual({
      pipeline: SAMPLE.pipeline,
      executionId: SAMPLE.executionId,
      state: 'SUCCEEDED',
      startedAt: SAMPLE.startTime,
      commitId: SAMPLE.commitId,
      branch: 'main',
      repository: 'example-org/orders-api',
      author: 'Dana Ops',
      account: '123456789012',
      region: 'us-east-1',
      eventId: '01234567-0123-0123-0123-012345678901',
      // The envelope's time: when EventBridge sent it (a first delivery is less than a minute old).
      sentAt: '2026-11-20T10:15:42.000Z',
    });
  });

  it('accepts detail.version as the string "1" (legacy event) and uses the envelope time as the start', () => {
    const raw = loadEvent('pipeline-succeeded-legacy');
    expect(raw.detail.version).toBe('1');
    expect(raw.detail['start-time']).toBeUndefined();
    const execution = parsePipelineEvent(raw);
    expect(execution.state).toBe('SUCCEEDED');
    expect(execution.executionId).toBe('7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f');
    expect(execution.startedAt).toBe('2026-11-20T09:30:11.000Z');
    expect(execution.commitId).toBeUndefined();
    expect(execution.branch).toBeUndefined();
  });

  it('accepts detail.version as the number 3.0', () => {
    const raw = loadEvent('pipeline-succeeded');
    expect(raw.detail.version).toBe(3);
    expect(parsePipelineEvent(raw).state).toBe('SUCCEEDED');
  });

  it('prefers detail.start-time over the envelope time', () => {
    const raw = loadEvent('pipeline-succeeded');
    expect(raw.time).not.toBe(raw.detail['start-time']);
    expect(parsePipelineEvent(raw).startedAt).toBe('2026-11-20T10:09:03.512Z');
  });

  it('normalises a start-time with an offset to UTC', () => {
    const execution = parsePipelineEvent(
      changed((e) => {
        e.detail['start-time'] = '2026-11-20T12:09:03.512+02:00';
      }),
    );
    expect(execution.startedAt).toBe('2026-11-20T10:09:03.512Z');
  });

  it('lower-cases the commit id', () => {
    const execution = parsePipelineEvent(
      changed((e) => {
        e.detail['execution-trigger'] = { 'commit-id': 'ABCDEF0123456' };
      }),
    );
    expect(execution.commitId).toBe('abcdef0123456');
  });

  it('parses the other states without judging them', () => {
    expect(parsePipelineEvent(loadEvent('pipeline-started')).state).toBe('STARTED');
    const failed = parsePipelineEvent(loadEvent('pipeline-failed'));
    expect(failed.state).toBe('FAILED');
    // A manual start names no commit.
    expect(failed.commitId).toBeUndefined();
  });

  it('accepts long free text that only reaches messages: commit message, branch, author, trigger detail', () => {
    const execution = parsePipelineEvent(
      changed((e) => {
        e.detail['execution-trigger'] = {
          'trigger-type': 'CodeStarSourceConnection',
          'trigger-detail': 'd'.repeat(5000),
          'commit-id': SAMPLE.commitId,
          'branch-name': `feature/${'b'.repeat(1000)}`,
          'full-repository-name': `org/${'r'.repeat(1000)}`,
          'author-display-name': 'a'.repeat(1000),
          'commit-message': 'm'.repeat(10_000),
        };
      }),
    );
    expect(execution.branch).toBe(`feature/${'b'.repeat(1000)}`);
    expect(execution.author).toBe('a'.repeat(1000));
    expect(execution.commitId).toBe(SAMPLE.commitId);
  });

  it('tolerates unknown fields from newer event versions', () => {
    const execution = parsePipelineEvent(
      changed((e) => {
        e.detail['some-future-field'] = { nested: true };
        e['another-envelope-field'] = 1;
      }),
    );
    expect(execution.executionId).toBe(SAMPLE.executionId);
  });
});

describe('parsePipelineEvent: malformed events throw an EventValidationError naming the field', () => {
  it('is a PermanentError (never retried)', () => {
    expect(rejectionOf(null)).toBeInstanceOf(PermanentError);
  });

  it.each<[string, (e: SampleEvent) => void, string]>([
    ['missing detail', (e) => Reflect.deleteProperty(e, 'detail'), 'detail'],
    [
      'an execution id with "/"',
      (e) => {
        e.detail['execution-id'] = 'abc/def';
      },
      'detail.execution-id: must be a pipeline execution id',
    ],
    [
      'an execution id with ".."',
      (e) => {
        e.detail['execution-id'] = '..';
      },
      'detail.execution-id: must be a pipeline execution id',
    ],
    [
      'an execution id that climbs directories',
      (e) => {
        e.detail['execution-id'] = 'a-..-b/../../etc';
      },
      'detail.execution-id: must be a pipeline execution id',
    ],
    [
      'a non-hex commit id',
      (e) => {
        e.detail['execution-trigger'] = { 'commit-id': 'not-a-commit-zzzz' };
      },
      'detail.execution-trigger.commit-id: must be a git commit id',
    ],
    [
      'a huge pipeline name',
      (e) => {
        e.detail.pipeline = 'p'.repeat(10_000);
      },
      'detail.pipeline: must be a CodePipeline name',
    ],
    [
      'a commit message longer than a whole EventBridge event',
      (e) => {
        e.detail['execution-trigger'] = { 'commit-message': 'm'.repeat(EVENT_TEXT_LIMIT + 1) };
      },
      'detail.execution-trigger.commit-message',
    ],
    [
      'a huge execution id',
      (e) => {
        e.detail['execution-id'] = 'a'.repeat(10_000);
      },
      'detail.execution-id',
    ],
    [
      'a huge event id',
      (e) => {
        e.id = 'i'.repeat(10_000);
      },
      'id',
    ],
    [
      'a lower-case state',
      (e) => {
        e.detail.state = 'succeeded';
      },
      'detail.state: must be a pipeline state',
    ],
    [
      'a bad account',
      (e) => {
        e.account = '1234';
      },
      'account: must be a 12-digit account id',
    ],
    [
      'a bad region',
      (e) => {
        e.region = 'mars';
      },
      'region: must be an AWS region',
    ],
    [
      'a time that is not ISO 8601',
      (e) => {
        e.time = 'yesterday';
      },
      'time: must be an ISO 8601 time',
    ],
    [
      'another detail-type',
      (e) => {
        loose(e)['detail-type'] = 'CodePipeline Stage Execution State Change';
      },
      'detail-type',
    ],
    [
      'another source',
      (e) => {
        loose(e).source = 'aws.codebuild';
      },
      'source',
    ],
    [
      'a version that is neither string nor number',
      (e) => {
        e.detail.version = { major: 3 } as unknown as number;
      },
      'detail.version',
    ],
    [
      'a negative execution attempt',
      (e) => {
        e.detail['pipeline-execution-attempt'] = -1;
      },
      'detail.pipeline-execution-attempt',
    ],
  ])('%s', (_what, change, named) => {
    const error = rejectionOf(changed(change));
    expect(error.message).toMatch(/^malformed pipeline event: /);
    expect(error.message).toContain(named);
  });

  it('keeps the message short even for huge input', () => {
    const error = rejectionOf(
      changed((e) => {
        e.detail.pipeline = 'p'.repeat(10_000);
        e.detail['execution-id'] = 'x/'.repeat(5_000);
        e.id = 'i'.repeat(10_000);
      }),
    );
    expect(error.message.length).toBeLessThan(1_000);
    expect(error.message).not.toContain('pppppppppp');
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a number', 42],
    ['an array', []],
    ['a string body (the event JSON-encoded once more)', JSON.stringify(loadEvent('pipeline-succeeded'))],
    ['undefined', undefined],
  ])('rejects %s as the whole event', (_what, raw) => {
    expect(rejectionOf(raw).message).toContain('(event)');
  });

  it('an execution id accepted here also makes a valid SSM label (exec-<id>)', () => {
    // The longest id the event schema accepts must still fit the SSM label the deployer writes later;
    // otherwise a valid event fails after its PutParameter, as a retried (non-permanent) error, forever.
    const longest = `a${'0'.repeat(99)}`;
    const accepted = succeeds(() =>
      parsePipelineEvent(
        changed((e) => {
          e.detail['execution-id'] = longest;
        }),
      ),
    );
    const labelled = succeeds(() => executionLabel(longest));
    // Either the schema refuses the id, or the label accepts it.
    expect({ accepted, labelled }).not.toEqual({ accepted: true, labelled: false });
  });
});
