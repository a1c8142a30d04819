/**
 * An HTTP proxy on 127.0.0.1 between the AWS SDK and the emulator. It names and counts every AWS
 * operation that passes (the benchmark's call counts), and can inject the faults AWS produces: throttling,
 * 5xx answers and dropped connections at a configured rate, answers lost after the emulator acted (per
 * operation, at a rate or for the next N calls), and a stack that looks busy for a number of reads. It can
 * also make the emulator behave like AWS in time (`setRealism`): every call takes a round trip, and a change
 * set takes seconds to compute, as CloudFormation's do. Used by the benchmark and the fault tests; never by
 * the product.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  answerWith,
  operationOf,
  paramsOf,
  readBody,
  serverErrorAnswer,
  throttleAnswer,
} from './aws-protocol';
import { type ChangeSetTiming, createSimulation, type SimulatedStackEvent } from './aws-simulation';

export { operationOf } from './aws-protocol';
export type { ChangeSetTiming, SimulatedStackEvent } from './aws-simulation';

export interface Faults {
  /** Share of requests answered with a throttling error (0..1). */
  throttle?: number;
  /** Share of requests answered with a 503. */
  serverError?: number;
  /** Share of requests whose connection is dropped before they reach the emulator. */
  drop?: number;
  /** Operations never faulted by the rates above (e.g. the test's own set-up calls), as "service.Operation". */
  spare?: string[];
  /**
   * Answers lost after the emulator acted, per operation ("s3.PutObject", "ssm.PutParameter"): the request
   * reaches the emulator, which acts, and the caller gets a 500 or a reset connection instead of its
   * answer. Applies to the calls the faults above let through; `spare` does not apply (name only the
   * operations to lose).
   */
  lost?: Record<string, LostAnswers>;
  /** A deterministic source of chance, for repeatable runs. */
  random?: () => number;
}

/** How the caller learns nothing of what the emulator did: a 500 instead of its answer, or a reset connection. */
export type LostAs = 'serverError' | 'reset';

export interface LostAnswers {
  /** Share of this operation's calls (0..1) whose answer is lost. */
  rate?: number;
  /** Lose the answers of this operation's next N calls, before any rate applies (deterministic tests). */
  next?: number;
  /** A 500 (the default), a reset connection, or either, drawn per call. */
  as?: LostAs | 'either';
}

/** The kinds of fault `injected()` counts. */
export type FaultKind = 'throttle' | 'serverError' | 'drop' | 'lost';

/** How AWS behaves in time, which the emulator does not: it answers at once and computes change sets at once. */
export interface Realism {
  /** Each call's round trip (network and service time), added before the emulator sees it. */
  latencyMs?: number;
  /** How long a change set stays CREATE_IN_PROGRESS after CreateChangeSet, as CloudFormation computes it. */
  changeSetMs?: number;
}

export interface ForwardedCall {
  operation: string;
  /** performance.now() when the request arrived at the proxy, and when its answer left (or was lost). */
  startedAt: number;
  answeredAt: number;
  /** What the emulator answered, whether or not the caller got it. */
  status: number;
  params: Record<string, unknown>;
  /** The caller never got this answer (a `lost` fault): how it was lost. */
  lost?: LostAs;
}

export interface AwsProxy {
  endpoint: string;
  /** Calls per "service.Operation" since the last reset. */
  counts(): Record<string, number>;
  total(): number;
  /**
   * The requests that reached the emulator and what it answered, since the last reset: the form fields of
   * query-protocol calls (CloudFormation, SNS), the JSON body of JSON-protocol ones (SSM), the path for S3.
   */
  forwarded(): ForwardedCall[];
  /** Faults injected per kind since the last reset (`lost`: answers lost after the emulator acted). */
  injected(): Record<FaultKind, number>;
  reset(): void;
  /** Replace the faults; the `lost.next` counts start afresh. */
  setFaults(faults: Faults): void;
  /**
   * Add stack events (as CloudFormation would have recorded them) to DescribeStackEvents answers for this
   * stack, newest first, ahead of the emulator's own: the emulator records no failed resources.
   */
  addStackEvents(stackName: string, events: SimulatedStackEvent[]): void;
  /** Latency per call and change-set compute time, for calls from now on (`{}`: the emulator's own pace). */
  setRealism(realism: Realism): void;
  /** The change sets created since the last reset, with their readiness times. */
  changeSets(): ChangeSetTiming[];
  /** Make DescribeStacks report this stack as UPDATE_IN_PROGRESS for the next `reads` reads. */
  makeBusy(stackName: string, reads: number, status?: string): void;
  close(): Promise<void>;
}

export const startAwsProxy = async (target: string): Promise<AwsProxy> => {
  const upstream = new URL(target);
  let counts: Record<string, number> = {};
  let injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, drop: 0, lost: 0 };
  let faults: Faults = {};
  /** Per operation, how many of its next answers are still to be lost (`LostAnswers.next`). */
  let lostLeft = new Map<string, number>();
  let forwardedCalls: ForwardedCall[] = [];
  const simulation = createSimulation();
  let latencyMs = 0;

  const fault = (operation: string): 'throttle' | 'serverError' | 'drop' | undefined => {
    if (faults.spare?.includes(operation)) return undefined;
    const chance = faults.random ?? Math.random;
    if (chance() < (faults.drop ?? 0)) return 'drop';
    if (chance() < (faults.throttle ?? 0)) return 'throttle';
    if (chance() < (faults.serverError ?? 0)) return 'serverError';
    return undefined;
  };

  /** Whether this call's answer is to be lost, and how. */
  const lossOf = (operation: string): LostAs | undefined => {
    const rule = faults.lost?.[operation];
    if (!rule) return undefined;
    const chance = faults.random ?? Math.random;
    const left = lostLeft.get(operation) ?? 0;
    if (left > 0) lostLeft.set(operation, left - 1);
    else if (!(chance() < (rule.rate ?? 0))) return undefined;
    if (rule.as === 'either') return chance() < 0.5 ? 'serverError' : 'reset';
    return rule.as ?? 'serverError';
  };

  /** The emulator acted; the caller gets a 500 or a dead connection instead of its answer. */
  const loseAnswer = (req: IncomingMessage, res: ServerResponse, operation: string, how: LostAs) => {
    if (how === 'reset') return req.socket.destroy();
    const service = operation.split('.')[0] ?? '';
    answerWith(res, serverErrorAnswer(service, typeof req.headers['x-amz-target'] === 'string'));
  };

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
    operation: string,
    lost: LostAs | undefined,
    startedAt: number,
  ) => {
    const params = paramsOf(req, body);
    const refusal = simulation.refusal(operation, params, performance.now());
    if (refusal) {
      forwardedCalls.push({
        operation,
        startedAt,
        answeredAt: performance.now(),
        status: refusal.status,
        params,
      });
      return answerWith(res, refusal);
    }
    const send = (done: () => void) => {
      const upstreamRequest = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            done();
            const raw = Buffer.concat(chunks);
            const payload = operation.startsWith('cloudformation.')
              ? Buffer.from(
                  simulation.rewrite(operation, params, raw.toString('utf8'), startedAt, performance.now()),
                )
              : raw;
            forwardedCalls.push({
              operation,
              startedAt,
              answeredAt: performance.now(),
              status: answer.statusCode ?? 0,
              params,
              ...(lost ? { lost } : {}),
            });
            if (lost) return loseAnswer(req, res, operation, lost);
            const headers = { ...answer.headers, 'content-length': String(payload.length) };
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(payload);
          });
        },
      );
      upstreamRequest.on('error', () => {
        done();
        res.destroy();
      });
      upstreamRequest.end(body);
    };
    if (isConditionalWrite(req)) oneAtATime(String(req.url).split('?')[0] ?? '', send);
    else send(() => {});
  };

  /**
   * moto checks a conditional S3 write's If-Match / If-None-Match and then writes, without a lock: two such
   * writes of one key at once can both pass, which S3 never lets happen. The proxy sends them to the emulator
   * one at a time per key, as S3 decides them.
   */
  const conditionalWrites = new Map<string, Promise<void>>();
  const isConditionalWrite = (req: IncomingMessage): boolean =>
    (req.method === 'PUT' || req.method === 'DELETE') &&
    (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined);
  const oneAtATime = (key: string, send: (done: () => void) => void): void => {
    const turn = (conditionalWrites.get(key) ?? Promise.resolve()).then(
      () => new Promise<void>((done) => send(done)),
    );
    conditionalWrites.set(key, turn);
    void turn.then(() => {
      if (conditionalWrites.get(key) === turn) conditionalWrites.delete(key);
    });
  };

  const server: Server = createServer((req, res) => {
    const startedAt = performance.now();
    readBody(req).then(
      (body) => {
        const operation = operationOf(req, body);
        counts[operation] = (counts[operation] ?? 0) + 1;
        const kind = fault(operation);
        if (kind) injected[kind] += 1;
        if (kind === 'drop') return req.socket.destroy();
        if (kind) {
          const service = operation.split('.')[0] ?? '';
          return answerWith(
            res,
            kind === 'throttle'
              ? throttleAnswer(service, typeof req.headers['x-amz-target'] === 'string')
              : { status: 503, type: 'text/plain', body: 'Service Unavailable' },
          );
        }
        const lost = lossOf(operation);
        if (lost) injected.lost += 1;
        if (latencyMs > 0) setTimeout(() => forward(req, body, res, operation, lost, startedAt), latencyMs);
        else forward(req, body, res, operation, lost, startedAt);
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    injected: () => ({ ...injected }),
    forwarded: () => [...forwardedCalls],
    reset: () => {
      counts = {};
      forwardedCalls = [];
      simulation.changeSets = [];
      injected = { throttle: 0, serverError: 0, drop: 0, lost: 0 };
    },
    setFaults: (next) => {
      faults = next;
      lostLeft = new Map(
        Object.entries(next.lost ?? {}).map(([operation, rule]) => [operation, rule.next ?? 0]),
      );
    },
    addStackEvents: (stackName, events) => {
      simulation.extraEvents.set(stackName, events);
    },
    setRealism: (realism) => {
      latencyMs = realism.latencyMs ?? 0;
      simulation.changeSetMs = realism.changeSetMs ?? 0;
    },
    changeSets: () => [...simulation.changeSets],
    makeBusy: (stackName, reads, status = 'UPDATE_IN_PROGRESS') => {
      simulation.busy.set(stackName, { reads, status });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
