/**
 * The rollout trigger against moto, as far as moto goes: ListStackResources of a real stage stack (created
 * from the SAM example template) decides the stage. moto's CloudFormation makes no AWS::CodeDeploy::*
 * resources (nor anything of SAM's transform), so a stage stack there never made a deployment group: a
 * deployment whose application is named like the stage stack's is not the stage's, and nothing is sent.
 *
 * Not here, with mocks in test/unit/codedeploy-rollout.test.ts: GetDeployment (moto 5.2 answers it with
 * createTime as an ISO string where the API has epoch seconds, which the SDK refuses to read, and with no
 * errorInformation or rollbackInfo), and so every reported state, the alarm and the failed-release marking.
 */
import { handleDeploymentStateChange } from '../../shared/triggers/codedeploy';
import { type StageWorld, worldsOfFile } from './helpers/file-setup';
import { ACCOUNT, inbox, REGION } from './helpers/world';

jest.setTimeout(60_000);

let base: StageWorld;
const worlds = worldsOfFile();
beforeAll(async () => {
  base = await worlds.withStack();
  await inbox(base.world);
});

const names = () => ({
  application: `${base.stage.stack}-ServerlessDeploymentApplication-1A2B3C`,
  group: `${base.stage.stack}-FunctionDeploymentGroup-4D5E6F`,
});

test("a deployment group the stage stack did not make is not the stage's: nothing is sent", async () => {
  const { application, group } = names();
  const summary = await handleDeploymentStateChange(base.world.runtime, {
    version: '0',
    id: `it-${base.world.id}-rollout`,
    'detail-type': 'CodeDeploy Deployment State-change Notification',
    source: 'aws.codedeploy',
    account: ACCOUNT,
    time: '2026-11-20T10:14:31Z',
    region: REGION,
    resources: [],
    detail: {
      region: REGION,
      deploymentId: 'd-7QX2KJ4AB',
      application,
      deploymentGroup: group,
      state: 'STOP',
    },
  });
  expect(summary).toMatchObject({ verdict: 'ignored' });
  expect(summary.reason).toContain('not a deployment group of a configured stage');
  expect(await inbox(base.world)).toEqual([]);
});
