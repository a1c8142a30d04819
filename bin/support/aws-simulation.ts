/**
 * What the emulator proxy (aws-proxy.ts) changes in CloudFormation's answers, so that the emulator behaves
 * like AWS where tests and the benchmark need it to: a stack that looks busy for some reads, stack events
 * the emulator never records (failed resources), and change sets that take time to compute (the emulator
 * computes them at once; CloudFormation takes seconds).
 */
import { type Answer, senderErrorAnswer, xmlText } from './aws-protocol';

export interface SimulatedStackEvent {
  logicalId: string;
  type: string;
  status: string;
  reason?: string;
  token?: string;
  time: string;
}

/** A change set the proxy saw created, and when it became (or becomes) ready under the realism in force. */
export interface ChangeSetTiming {
  id: string;
  name: string;
  stack: string;
  /** performance.now() of the CreateChangeSet request's arrival, and of its readiness. */
  createdAt: number;
  readyAt: number;
}

type Params = Record<string, unknown>;

/** The stack's name, from a name or a stack ARN (arn:…:stack/<name>/<id>). */
const stackNameOf = (ref: unknown): string | undefined => {
  if (typeof ref !== 'string' || !ref) return undefined;
  return ref.startsWith('arn:') ? ref.split('/')[1] : ref;
};

export interface Simulation {
  busy: Map<string, { reads: number; status: string }>;
  extraEvents: Map<string, SimulatedStackEvent[]>;
  changeSetMs: number;
  changeSets: ChangeSetTiming[];
  /** A refusal AWS would give before acting (executing a change set still being computed), if any. */
  refusal(operation: string, params: Params, now: number): Answer | undefined;
  /** The emulator's answer as AWS would have given it at `now`; notes the change sets created. */
  rewrite(operation: string, params: Params, payload: string, startedAt: number, now: number): string;
}

export const createSimulation = (): Simulation => {
  const simulation: Simulation = {
    busy: new Map(),
    extraEvents: new Map(),
    changeSetMs: 0,
    changeSets: [],
    refusal: (operation, params, now) => {
      if (operation !== 'cloudformation.ExecuteChangeSet') return undefined;
      const timing = timingOf(params);
      if (!timing || now >= timing.readyAt) return undefined;
      return senderErrorAnswer(
        'InvalidChangeSetStatus',
        `ChangeSet [${timing.id}] cannot be executed in its current status of [CREATE_IN_PROGRESS]`,
      );
    },
    rewrite: (operation, params, payload, startedAt, now) => {
      switch (operation) {
        case 'cloudformation.DescribeStacks':
          return rewriteBusy(payload, params);
        case 'cloudformation.DescribeStackEvents':
          return addEvents(payload, params);
        case 'cloudformation.CreateChangeSet':
          noteCreated(payload, params, startedAt);
          return payload;
        case 'cloudformation.DescribeChangeSet':
          return inProgressUntilReady(payload, timingOf(params), now);
        case 'cloudformation.ListChangeSets':
          return payload.replace(/<member>[\s\S]*?<\/member>/g, (member) =>
            inProgressUntilReady(member, timingById(/<ChangeSetId>([^<]+)</.exec(member)?.[1]), now),
          );
        default:
          return payload;
      }
    },
  };

  const timingById = (id: string | undefined) => simulation.changeSets.find((c) => c.id === id);
  const timingOf = (params: Params): ChangeSetTiming | undefined => {
    const ref = params.ChangeSetName;
    if (typeof ref !== 'string') return undefined;
    if (ref.startsWith('arn:')) return timingById(ref);
    const stack = stackNameOf(params.StackName);
    return simulation.changeSets.findLast((c) => c.name === ref && c.stack === stack);
  };

  const noteCreated = (payload: string, params: Params, createdAt: number): void => {
    const id = /<Id>([^<]+)<\/Id>/.exec(payload)?.[1];
    const stack = stackNameOf(params.StackName);
    if (!id || !stack || typeof params.ChangeSetName !== 'string') return;
    simulation.changeSets.push({
      id,
      name: params.ChangeSetName,
      stack,
      createdAt,
      readyAt: createdAt + simulation.changeSetMs,
    });
  };

  /** A change set is CREATE_IN_PROGRESS, and cannot be executed, until its compute time has passed. */
  const inProgressUntilReady = (xml: string, timing: ChangeSetTiming | undefined, now: number): string =>
    !timing || now >= timing.readyAt
      ? xml
      : xml
          .replace('<Status>CREATE_COMPLETE</Status>', '<Status>CREATE_IN_PROGRESS</Status>')
          .replace(
            '<ExecutionStatus>AVAILABLE</ExecutionStatus>',
            '<ExecutionStatus>UNAVAILABLE</ExecutionStatus>',
          );

  /** Report a stack as busy while it has busy reads left. */
  const rewriteBusy = (xml: string, params: Params): string => {
    // The deployer describes one stack at a time, by name or by ARN.
    const name = stackNameOf(params.StackName);
    const state = name ? simulation.busy.get(name) : undefined;
    if (!state || state.reads <= 0) return xml;
    state.reads -= 1;
    return xml.replace(/<StackStatus>[^<]+<\/StackStatus>/, `<StackStatus>${state.status}</StackStatus>`);
  };

  /** Put the simulated events first in the first page of the stack's events. */
  const addEvents = (xml: string, params: Params): string => {
    if (params.NextToken !== undefined || !xml.includes('<StackEvents>')) return xml;
    const name = stackNameOf(params.StackName);
    const events = name ? simulation.extraEvents.get(name) : undefined;
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

  return simulation;
};
