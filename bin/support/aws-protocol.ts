/**
 * How AWS requests and answers look on the wire, for the emulator proxy (aws-proxy.ts): which operation a
 * request is, its parameters, and errors in each service's own protocol (JSON, S3's XML, the query XML).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Answer {
  status: number;
  type: string;
  body: string;
}

export const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** The signing scope's service name: "…/us-east-1/cloudformation/aws4_request". */
export const serviceOf = (req: IncomingMessage): string =>
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

export const paramsOf = (req: IncomingMessage, body: Buffer): Record<string, unknown> => {
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

export const throttleAnswer = (service: string, jsonProtocol: boolean): Answer => {
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
export const serverErrorAnswer = (service: string, jsonProtocol: boolean): Answer => {
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

export const answerWith = (res: ServerResponse, answer: Answer): void => {
  res.writeHead(answer.status, {
    'content-type': answer.type,
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
};

/** A client error (4xx) in the query protocol (CloudFormation, SNS), as AWS answers a refused request. */
export const senderErrorAnswer = (code: string, message: string): Answer => ({
  status: 400,
  type: 'text/xml',
  body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlText(message)}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>`,
});

export const xmlText = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
