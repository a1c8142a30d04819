/**
 * An HTTP proxy on 127.0.0.1 between the AWS SDK and the emulator. It names and counts every AWS
 * operation that passes (the benchmark's call counts), and can inject the faults AWS produces: throttling,
 * 5xx answers and dropped connections at a configured rate, answers lost after the emulator acted (per
 * operation, at a rate or for the next N calls), and a stack that looks busy for a number of reads. Used by
 * the benchmark and the fault tests; never by the product.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';

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

export interface SimulatedStackEvent {
  logicalId: string;
  type: string;
  status: string;
  reason?: string;
  token?: string;
  time: string;
}

export interface ForwardedCall {
  operation: string;
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
  /** Make DescribeStacks report this stack as UPDATE_IN_PROGRESS for the next `reads` reads. */
  makeBusy(stackName: string, reads: number, status?: string): void;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** The signing scope's service name: "…/us-east-1/cloudformation/aws4_request". */
const serviceOf = (req: IncomingMessage): string =>
  /\/[a-z0-9-]+\/([a-z0-9-]+)\/aws4_request/.exec(req.headers.authorization ?? '')?.[1] ?? 'unknown';

const s3Operation = (req: IncomingMessage): string => {
  const url = new URL(req.url ?? '/', 'http://x');
  const segments = url.pathname.split('/').filter(Boolean);
  const onBucket = segments.length <= 1;
  switch (req.method) {
    case 'HEAD':
      return onBucket ? 'HeadBucket' : 'HeadObject';
    case 'GET':
      if (url.searchParams.has('versions')) return 'ListObjectVersions';
      return onBucket ? 'ListObjects' : 'GetObject';
    case 'PUT':
      if (onBucket) return 'CreateBucket';
      return req.headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
    case 'DELETE':
      return onBucket ? 'DeleteBucket' : 'DeleteObject';
    case 'POST':
      return url.searchParams.has('delete') ? 'DeleteObjects' : 'PostObject';
    default:
      return req.method ?? 'UNKNOWN';
  }
};

/** "service.Operation" for any request the SDK sends (JSON target header, query Action, or S3 REST). */
export const operationOf = (req: IncomingMessage, body: Buffer): string => {
  const service = serviceOf(req);
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return `${service}.${target.split('.').at(-1)}`;
  if (service === 's3') return `s3.${s3Operation(req)}`;
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  return `${service}.${action ?? 'Unknown'}`;
};

const paramsOf = (req: IncomingMessage, body: Buffer): Record<string, unknown> => {
  const text = body.toString('utf8');
  if (typeof req.headers['x-amz-target'] === 'string') {
    try {
      return JSON.parse(text || '{}') as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  if (serviceOf(req) === 's3')
    return { path: decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname) };
  return Object.fromEntries(new URLSearchParams(text));
};

const throttleAnswer = (
  service: string,
  jsonProtocol: boolean,
): { status: number; type: string; body: string } => {
  if (jsonProtocol) {
    return {
      status: 400,
      type: 'application/x-amz-json-1.1',
      body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
    };
  }
  if (service === 's3') {
    return {
      status: 503,
      type: 'application/xml',
      body: '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
    };
  }
  return {
    status: 400,
    type: 'text/xml',
    body: '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>',
  };
};

/** An internal error in the service's own protocol, as AWS answers when it failed after the request arrived. */
const serverErrorAnswer = (
  service: string,
  jsonProtocol: boolean,
): { status: number; type: string; body: string } => {
  if (jsonProtocol) {
    return {
      status: 500,
      type: 'application/x-amz-json-1.1',
      body: JSON.stringify({ __type: 'InternalServerError', message: 'Internal server error' }),
    };
  }
  if (service === 's3') {
    return {
      status: 500,
      type: 'application/xml',
      body: '<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>proxy</RequestId></Error>',
    };
  }
  return {
    status: 500,
    type: 'text/xml',
    body: '<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>Internal failure</Message></Error><RequestId>proxy</RequestId></ErrorResponse>',
  };
};

const answerWith = (res: ServerResponse, answer: { status: number; type: string; body: string }): void => {
  res.writeHead(answer.status, {
    'content-type': answer.type,
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
};

export const startAwsProxy = async (target: string): Promise<AwsProxy> => {
  const upstream = new URL(target);
  let counts: Record<string, number> = {};
  let injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, drop: 0, lost: 0 };
  let faults: Faults = {};
  /** Per operation, how many of its next answers are still to be lost (`LostAnswers.next`). */
  let lostLeft = new Map<string, number>();
  let forwardedCalls: ForwardedCall[] = [];
  const busy = new Map<string, { reads: number; status: string }>();
  const extraEvents = new Map<string, SimulatedStackEvent[]>();

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
  ) => {
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
          let payload = Buffer.concat(chunks);
          if (operation === 'cloudformation.DescribeStacks')
            payload = Buffer.from(rewriteBusy(payload.toString('utf8'), paramsOf(req, body)));
          if (operation === 'cloudformation.DescribeStackEvents')
            payload = Buffer.from(addEvents(payload.toString('utf8'), paramsOf(req, body)));
          forwardedCalls.push({
            operation,
            status: answer.statusCode ?? 0,
            params: paramsOf(req, body),
            ...(lost ? { lost } : {}),
          });
          if (lost) return loseAnswer(req, res, operation, lost);
          const headers = { ...answer.headers, 'content-length': String(payload.length) };
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(payload);
        });
      },
    );
    upstreamRequest.on('error', () => res.destroy());
    upstreamRequest.end(body);
  };

  /** Report a stack as busy while it has busy reads left. */
  const rewriteBusy = (xml: string, params: Record<string, unknown>): string => {
    // The deployer describes one stack at a time, by name or by ARN.
    const ref = typeof params.StackName === 'string' ? params.StackName : '';
    const name = ref.startsWith('arn:') ? ref.split('/')[1] : ref;
    const state = name ? busy.get(name) : undefined;
    if (!state || state.reads <= 0) return xml;
    state.reads -= 1;
    return xml.replace(/<StackStatus>[^<]+<\/StackStatus>/, `<StackStatus>${state.status}</StackStatus>`);
  };

  const xmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  /** Put the simulated events first in the first page of the stack's events. */
  const addEvents = (xml: string, params: Record<string, unknown>): string => {
    const stackRef = params.StackName;
    if (typeof stackRef !== 'string' || params.NextToken !== undefined || !xml.includes('<StackEvents>'))
      return xml;
    const name = stackRef.startsWith('arn:') ? stackRef.split('/')[1] : stackRef;
    const events = name ? extraEvents.get(name) : undefined;
    const stackId = /<StackId>([^<]+)<\/StackId>/.exec(xml)?.[1] ?? '';
    if (!events?.length || !name) return xml;
    const members = events
      .map(
        (e, i) =>
          `<member><StackId>${stackId}</StackId><EventId>simulated-${i}</EventId><StackName>${name}</StackName><LogicalResourceId>${xmlText(e.logicalId)}</LogicalResourceId><PhysicalResourceId>${e.type === 'AWS::CloudFormation::Stack' ? stackId : xmlText(e.logicalId)}</PhysicalResourceId><ResourceType>${xmlText(e.type)}</ResourceType><Timestamp>${e.time}</Timestamp><ResourceStatus>${e.status}</ResourceStatus>${e.reason ? `<ResourceStatusReason>${xmlText(e.reason)}</ResourceStatusReason>` : ''}${e.token ? `<ClientRequestToken>${xmlText(e.token)}</ClientRequestToken>` : ''}</member>`,
      )
      .join('');
    return xml.replace('<StackEvents>', `<StackEvents>${members}`);
  };

  const server: Server = createServer((req, res) => {
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
        forward(req, body, res, operation, lost);
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
      injected = { throttle: 0, serverError: 0, drop: 0, lost: 0 };
    },
    setFaults: (next) => {
      faults = next;
      lostLeft = new Map(
        Object.entries(next.lost ?? {}).map(([operation, rule]) => [operation, rule.next ?? 0]),
      );
    },
    addStackEvents: (stackName, events) => {
      extraEvents.set(stackName, events);
    },
    makeBusy: (stackName, reads, status = 'UPDATE_IN_PROGRESS') => {
      busy.set(stackName, { reads, status });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
