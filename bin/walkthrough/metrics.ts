/**
 * The walkthrough's metrics step (`npm start`): once the story has played, `deployer metrics` for its stages,
 * run as a person would run it at a terminal (the command's own code, in this process, against the emulator),
 * with a word on where each number comes from.
 */
import { metrics } from '../cli/commands/metrics';
import { say } from './timeline';

/**
 * Print `deployer metrics --since 30d` for the stages of `configFile` (the walkthrough's
 * deployer.config.yaml), as step `step` of the timeline. Returns the command's exit code.
 */
export const deliveryMetrics = async (configFile: string, step = '7'): Promise<number> => {
  say(`\n${step}. How the stages delivered: npx deployer metrics --since 30d`);
  say("   Read from each stage's history (SSM, and the deployer's archive under .deployer/history/ in the");
  say("   release bucket, which keeps every version beyond SSM's 100) and from how each run of the deployer");
  say("   ended (archived when its stack's final status event settled it).\n");
  const code = await metrics.run(['--since', '30d'], { ...process.env, DEPLOYER_CONFIG_FILE: configFile });
  say("\n   A deploy is a run of the deployer whose stack settled. dev: the first build's update completed");
  say(
    "   (its lead time counts from its pipeline's start, the start-time of events/pipeline-succeeded.json);",
  );
  say("   the third build's rolled back: a failed deploy, and an outage open until a deploy or a rollback");
  say("   completes. The second build's update was never reported settled in this story, and prod's change");
  say('   set waits for approval: neither is a deploy yet. The dashboard in template.yaml charts the same');
  say("   from the functions' logs.");
  return code;
};
