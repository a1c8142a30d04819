/**
 * What the commands that change a stage say to the person who ran them (bin/cli/outcomes.ts): what was done,
 * the release now desired, the outcome, the change set and the next step, with outside text shown as data.
 */
import { outcomeFields, reconcileText, recordedMoveText } from '../../bin/cli/outcomes';
import type { ReconcileResult } from '../../shared/outcomes';
import type { MoveResult } from '../../shared/stage/moves';

describe('what the moves say', () => {
  const base: ReconcileResult = {
    outcome: 'deploying',
    stage: 'prod',
    stack: 'orders-api-prod',
    fresh: true,
    changeSet: 'deploy-prod-v7',
    action: 'update',
    desired: {
      parameter: '/deployer/orders-api/prod/artifact',
      key: `releases/orders-api/${'ab'.repeat(32)}.zip`,
      version: 7,
      provenance: { commit: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d' },
    },
  };

  it('a rollback: what was done, the desired release, the outcome, the change set, the next step', () => {
    const move: MoveResult = {
      stage: 'prod',
      action: 'rollback',
      version: 7,
      key: base.desired?.key ?? '',
      reconcile: base,
      notified: true,
    };
    expect(recordedMoveText('rolled back stage prod', move)).toBe(
      [
        'rolled back stage prod',
        'desired:    version 7: releases/orders-api/abababababab… (commit 1a2b3c4)',
        'outcome:    deploying: the change set was executed; stack orders-api-prod is updating',
        'change set: deploy-prod-v7',
        'next:       npx deployer status prod shows when the stack settles; the ops team hears how it ends',
        'ops team:   told, as for any deploy',
      ].join('\n'),
    );
  });

  it('an approval stage points at approve and reject, and lists the planned changes', () => {
    const fields = Object.fromEntries(
      outcomeFields({
        ...base,
        outcome: 'pending-approval',
        changes: [
          { action: 'Modify', logicalId: 'Function', type: 'AWS::Lambda::Function', replacement: 'False' },
          { action: 'Add', logicalId: 'Queue', type: 'AWS::SQS::Queue', replacement: 'True' },
        ],
      }),
    );
    expect(fields).toEqual({
      outcome: 'waiting for approval: the change set is ready to execute',
      'change set': 'deploy-prod-v7',
      changes: 'Modify Function (AWS::Lambda::Function), Add Queue (AWS::SQS::Queue, replaced)',
      next: 'npx deployer approve prod executes it; npx deployer reject prod keeps what runs',
    });
  });

  it("shows a stack's reason as data: quoted, on one line, without escape sequences", () => {
    const text = reconcileText({
      ...base,
      outcome: 'blocked',
      changeSet: undefined,
      live: 'releases/orders-api/old.zip',
      why: {
        code: 'stack-needs-person',
        status: 'UPDATE_ROLLBACK_FAILED',
        statusReason: '"Next: run\u001b[2J rm -rf"\nfake line',
        region: 'eu-west-1',
      },
    });
    expect(text.split('\n')).toEqual([
      'reconciled stage prod',
      'desired: version 7: releases/orders-api/abababababab… (commit 1a2b3c4)',
      'running: releases/orders-api/old.zip',
      'outcome: blocked: "stack orders-api-prod is UPDATE_ROLLBACK_FAILED: \\"Next: run rm -rf\\" fake line"',
      'next:    The rollback of the last update failed. Fix the resource named in the stack events, then run aws cloudformation continue-update-rollback --stack-name orders-api-prod --region eu-west-1 (add --resources-to-skip for resources that cannot be rolled back).',
    ]);
  });

  it.each([
    ['in-sync', 'in sync: stack orders-api-prod already runs this release'],
    ['no-change', 'no change: CloudFormation found nothing to change; the empty change set was deleted'],
    [
      'waiting',
      'waiting: stack orders-api-prod is UPDATE_IN_PROGRESS; the release is deployed when it settles',
    ],
    ['nothing-desired', 'nothing to do: no release was ever recorded for this stage'],
  ] as const)('%s', (outcome, line) => {
    const fields = Object.fromEntries(outcomeFields({ ...base, outcome, stackStatus: 'UPDATE_IN_PROGRESS' }));
    expect(fields.outcome).toBe(line);
  });
});
