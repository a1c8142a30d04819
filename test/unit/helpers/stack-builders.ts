/**
 * Builders of what CloudFormation and SSM answer about the samples' stacks: newer releases (real bytes under
 * the keys they hash to), a stage's stack as DescribeStacks returns it, versions of a stage parameter with
 * the deployer's provenance, stack events and their pages, a missing stack's error. Nothing here talks to
 * the network.
 */
import type {
  DescribeStackEventsCommandInput,
  ResourceStatus,
  Stack,
  StackEvent,
  StackStatus,
} from '@aws-sdk/client-cloudformation';
import type { ParameterHistory } from '@aws-sdk/client-ssm';
import { awsError, SAMPLE } from './fixtures';
import { releaseObject } from './releases';
import { PARAMETERS, STACK_IDS } from './stack-samples';
import { OLD_KEY } from './world';

/** Two newer releases: real bytes under the keys they hash to, so that they verify. */
export const NEW_RELEASE = releaseObject('PK\u0003\u0004 a newer Lambda package');
export const NEWER_RELEASE = releaseObject('PK\u0003\u0004 the newest Lambda package');
export const NEW_KEY = NEW_RELEASE.key;
export const NEWER_KEY = NEWER_RELEASE.key;

/** A stage's stack as DescribeStacks returns it, with the id of the samples, running `artifactKey`. */
export const liveStack = (
  stage: 'dev' | 'prod',
  artifactKey: string | undefined = OLD_KEY,
  status = 'UPDATE_COMPLETE',
): Stack => ({
  StackName: `orders-api-${stage}`,
  StackId: STACK_IDS[stage],
  StackStatus: status as StackStatus,
  CreationTime: new Date('2026-01-01T00:00:00Z'),
  Parameters: [
    ...(artifactKey === undefined ? [] : [{ ParameterKey: 'ArtifactKey', ParameterValue: artifactKey }]),
    { ParameterKey: 'Stage', ParameterValue: stage },
    { ParameterKey: 'ArtifactBucket', ParameterValue: SAMPLE.bucket },
  ],
});

/** One version of a stage parameter as GetParameterHistory returns it, with the deployer's provenance. */
export const version = (
  stage: 'dev' | 'prod',
  number: number,
  key: string,
  options: {
    commit?: string;
    labels?: string[];
    description?: string;
    /** More provenance fields (artifact, template, action, …). */
    provenance?: Record<string, string>;
  } = {},
): ParameterHistory => ({
  Name: PARAMETERS[stage],
  Type: 'String',
  Value: key,
  Version: number,
  Labels: options.labels ?? [],
  LastModifiedDate: new Date(Date.UTC(2026, 10, 20, 10, number)),
  Description:
    options.description ??
    JSON.stringify({
      pipeline: SAMPLE.pipeline,
      execution: `exec-${number}`,
      ...(options.commit ? { commit: options.commit } : {}),
      startedAt: new Date(Date.UTC(2026, 10, 20, 10, number)).toISOString(),
      ...options.provenance,
    }),
});

let eventSeq = 0;

export interface EventOptions {
  stage?: 'dev' | 'prod';
  token?: string;
  type?: string;
  physicalId?: string;
}

/** A resource's event as DescribeStackEvents returns it. */
export const resourceEvent = (
  logicalId: string,
  status: string,
  reason?: string,
  options: EventOptions = {},
): StackEvent => {
  const stage = options.stage ?? 'prod';
  eventSeq += 1;
  return {
    EventId: `${logicalId}-${status}-${eventSeq}`,
    StackId: STACK_IDS[stage],
    StackName: `orders-api-${stage}`,
    LogicalResourceId: logicalId,
    PhysicalResourceId: options.physicalId ?? `${logicalId.toLowerCase()}-physical`,
    ResourceType: options.type ?? 'AWS::Lambda::Function',
    Timestamp: new Date(Date.UTC(2026, 10, 20, 11, 0, eventSeq)),
    ResourceStatus: status as ResourceStatus,
    ...(reason !== undefined ? { ResourceStatusReason: reason } : {}),
    ...(options.token !== undefined ? { ClientRequestToken: options.token } : {}),
  };
};

/** An event of the stack itself (its status). */
export const stackItselfEvent = (status: string, options: EventOptions = {}): StackEvent => {
  const stage = options.stage ?? 'prod';
  return resourceEvent(`orders-api-${stage}`, status, undefined, {
    ...options,
    type: 'AWS::CloudFormation::Stack',
    physicalId: STACK_IDS[stage],
  });
};

/** Pages of DescribeStackEvents, newest first; NextToken "page-<n>" leads to page n (0-based). */
export const stackEventPages = (pages: StackEvent[][]) => async (input: DescribeStackEventsCommandInput) => {
  const index = input.NextToken === undefined ? 0 : Number(input.NextToken.replace(/^page-/, ''));
  const page = pages[index];
  if (page === undefined) throw new Error(`test setup: no stack event page for token ${input.NextToken}`);
  return {
    StackEvents: page,
    ...(index + 1 < pages.length ? { NextToken: `page-${index + 1}` } : {}),
  };
};

export const stackMissing = (name: string): Error =>
  awsError('ValidationError', `Stack with id ${name} does not exist`);
