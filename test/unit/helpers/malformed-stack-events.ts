/**
 * Damaged copies of the CloudFormation samples, each of which parseStackEvent must reject. Damage the
 * schema's types do not allow (a wrong type, a literal changed, a required field removed) is spelled out
 * with `loose` and Reflect.deleteProperty.
 */
import { loose } from './fixtures';
import { apiCallEvent, STACK_IDS, scheduleEvent, statusEvent } from './stack-samples';

/** Damaged copies of the samples, each of which parseStackEvent must reject. */
export const malformedStackEvents = (): [string, () => unknown][] => [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a string', () => 'CloudFormation Stack Status Change'],
  ['a number', () => 42],
  ['an array', () => [statusEvent('stack-update-complete')]],
  ['an empty object', () => ({})],
  [
    'an unknown detail-type',
    () =>
      statusEvent('stack-update-complete', (e) => {
        loose(e)['detail-type'] = 'CloudFormation Resource Status Change';
      }),
  ],
  ['the schedule event', () => scheduleEvent()],
  [
    'a status change without stack-id',
    () =>
      statusEvent('stack-update-complete', (e) => {
        Reflect.deleteProperty(e.detail, 'stack-id');
      }),
  ],
  [
    'a stack-id that is a stack name, not an ARN',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'orders-api-dev';
      }),
  ],
  [
    'a stack-id that is another service ARN',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'arn:aws:s3:::orders-api-artifacts';
      }),
  ],
  [
    'a stack-id with a newline',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = `${STACK_IDS.dev}\n`;
      }),
  ],
  [
    'a stack-id that is a number',
    () =>
      statusEvent('stack-update-complete', (e) => {
        loose(e.detail)['stack-id'] = 12;
      }),
  ],
  [
    'a lowercase status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'update_complete' };
      }),
  ],
  [
    'a status with a space',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'UPDATE COMPLETE' };
      }),
  ],
  [
    'an empty status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: '' };
      }),
  ],
  [
    'a 65-character status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'A'.repeat(65) };
      }),
  ],
  [
    'no status-details',
    () =>
      statusEvent('stack-update-complete', (e) => {
        Reflect.deleteProperty(e.detail, 'status-details');
      }),
  ],
  [
    'a status reason longer than a whole EventBridge event',
    () =>
      statusEvent('stack-update-rollback-failed', (e) => {
        e.detail['status-details'] = {
          status: 'UPDATE_ROLLBACK_FAILED',
          'status-reason': 'x'.repeat(300_000),
        };
      }),
  ],
  [
    'a 300-character client request token',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['client-request-token'] = 't'.repeat(300);
      }),
  ],
  [
    'a wrong source',
    () =>
      statusEvent('stack-update-complete', (e) => {
        loose(e).source = 'custom.attacker';
      }),
  ],
  [
    'a malformed account',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.account = '12345';
      }),
  ],
  [
    'a malformed time',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.time = 'yesterday';
      }),
  ],
  [
    'a 200-character event id',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.id = 'i'.repeat(200);
      }),
  ],
  [
    'an API call with a 200-character eventName',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventName = 'U'.repeat(200);
      }),
  ],
  [
    'an API call with a 3000-character stack name',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.requestParameters = { stackName: 'a'.repeat(3000) };
      }),
  ],
  [
    'an API call with a user name longer than a whole EventBridge event',
    () =>
      apiCallEvent('cloudtrail-create-stack', (e) => {
        e.detail.userIdentity = { type: 'IAMUser', userName: 'u'.repeat(300_000) };
      }),
  ],
  [
    'an API call with an error message longer than a whole EventBridge event',
    () =>
      apiCallEvent('cloudtrail-update-stack-failed', (e) => {
        e.detail.errorMessage = 'm'.repeat(300_000);
      }),
  ],
  [
    'an ExecuteChangeSet that names neither a stack nor a change set ARN',
    () =>
      apiCallEvent('cloudtrail-execute-change-set-by-arn', (e) => {
        e.detail.requestParameters = { changeSetName: 'deploy-prod-v8' };
      }),
  ],
  [
    'an ExecuteChangeSet by an ARN of another service',
    () =>
      apiCallEvent('cloudtrail-execute-change-set-by-arn', (e) => {
        e.detail.requestParameters = { changeSetName: 'arn:aws:s3:::orders-api-artifacts/changeSet/x/y' };
      }),
  ],
  [
    'an API call from another event source',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        loose(e.detail).eventSource = 'iam.amazonaws.com';
      }),
  ],
  [
    'an API call with a malformed region',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.awsRegion = 'moon-1';
      }),
  ],
  [
    'an API call without eventTime',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventTime = 'not a time';
      }),
  ],
  [
    'an API call with a stack name that is a number',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        loose(e.detail).requestParameters = { stackName: 7 };
      }),
  ],
  [
    'an API call with a detail that is a string',
    () => ({ ...apiCallEvent('cloudtrail-update-stack'), detail: 'UpdateStack' }),
  ],
];
