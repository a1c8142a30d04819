/**
 * The commands that only read: status (what runs where) and history (what ran before). Tables for people,
 * --json for scripts.
 */

import type { ReleaseVersion } from '../../../shared/aws/release-history';
import { readWholeHistory } from '../../../shared/aws/whole-history';
import { allStages } from '../../../shared/edge/stages';
import { quoted, shown } from '../../../shared/edge/untrusted';
import { openingText } from '../../../shared/messages/reasons';
import { type StageStatus, stageStatus } from '../../../shared/operations/index';
import { type Command, commandArgs, EXIT, exactly, JSON_OPTION, UsageError } from '../args';
import { print, releaseCell, short, shortCommit, table } from '../render';
import { cliRuntime, stageArg } from '../runtime';

export const status: Command = {
  summary: 'what each stage should run, what it runs, and what waits',
  usage: `usage: deployer status [stage] [--json]

For each stage (or one): the desired release (SSM) and the live one (the stack's parameter), each with
its commit, when and by which execution; the stack's status; a pending change set; whether it is in sync;
who holds the stage's lock, since and until when; on a stage with alarms, whether its release is baking
(STATUS "…, baking until <time>"; --json: "baking": {version, until, alarms}).
Exit code 0 when every stage shown is in sync, 3 when one is not (or its stack needs a person).`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, JSON_OPTION);
    if (positionals.length > 1) throw new UsageError('status takes at most one stage name');
    const runtime = cliRuntime(env, { tellsOps: false });
    const stages = positionals[0] ? [stageArg(runtime, positionals[0])] : allStages(runtime.config);
    const statuses = await Promise.all(stages.map((stage) => stageStatus(runtime, stage)));
    print(values.json ? statuses : statusText(statuses));
    return statuses.every((s) => s.inSync) ? EXIT.ok : EXIT.needsPerson;
  },
};

const statusText = (statuses: StageStatus[]): string => {
  const lines = [
    table(
      ['STAGE', 'STACK', 'STATUS', 'DESIRED', 'LIVE', 'IN SYNC', 'PENDING'],
      statuses.map((s) => [
        s.stage,
        s.stack,
        s.baking ? `${shown(s.stackStatus)}, baking until ${s.baking.until}` : shown(s.stackStatus),
        s.desired ? releaseCell(s.desired.version, s.desired.provenance.commit, s.desired.key) : '-',
        s.live ? releaseCell(s.live.release?.version, s.live.release?.provenance.commit, s.live.key) : '-',
        s.inSync ? 'yes' : 'NO',
        s.pendingChangeSet ? shown(s.pendingChangeSet.name) : '-',
      ]),
    ),
  ];
  for (const s of statuses) {
    if (s.desired) {
      const when = s.desired.provenance.startedAt ?? s.desired.modifiedAt;
      lines.push(
        `${s.stage}: desired since ${when ? shown(when) : '?'} (${recordedBy(s.desired, 'a person')}); ${shown(s.desired.key, 1024)}`,
      );
    }
    if (s.baking)
      lines.push(
        `${s.stage}: baking version ${s.baking.version} until ${s.baking.until} (alarms: ${s.baking.alarms.map((a) => shown(a)).join(', ')})`,
      );
    if (s.frozen) lines.push(`${s.stage}: ${frozenLine(s.frozen)}`);
    // The holder is cleaned text from the lock object (readStageLock): quoted, it stays data.
    const { lock } = s;
    if (lock) {
      const ended = lock.expired ? ', expired: the next writer takes it over' : '';
      lines.push(
        `${s.stage}: locked by ${JSON.stringify(lock.holder)} since ${lock.since} until ${lock.until}${ended} (${lock.location})`,
      );
    }
  }
  return lines.join('\n');
};

/** "frozen until 2027-01-07 08:00 Europe/Berlin (…Z): in a freeze ("year-end freeze")". */
const frozenLine = (frozen: NonNullable<StageStatus['frozen']>): string => {
  const until = frozen.opensAt
    ? `frozen until ${openingText(frozen.opensAt, frozen.timeZone)}`
    : 'frozen, not opening within 400 days';
  const why =
    frozen.kind === 'freeze'
      ? `in a freeze (${quoted(frozen.reason ?? '', 200)})`
      : 'outside its deploy windows';
  return `${until}: ${why}; builds are recorded, not deployed (approve --break-glass --reason deploys now)`;
};

/** Who recorded a version: "execution 3f8e2a14…", "rollback by kim", or `byHand`. */
const recordedBy = (
  v: Pick<ReleaseVersion, 'provenance'>,
  byHand: string,
  executionChars?: number,
): string =>
  v.provenance.execution
    ? `execution ${shown(v.provenance.execution.slice(0, executionChars))}`
    : v.provenance.action
      ? `${shown(v.provenance.action)} by ${shown(String(v.provenance.by))}`
      : byHand;

export const history: Command = {
  summary: "a stage's releases, newest first, with labels and failures",
  usage: `usage: deployer history <stage> [--json]

Every version of the stage, newest first: those its SSM parameter keeps (all pages; SSM keeps the last
100), then the older ones the deployer's archive keeps (.deployer/history/ in the release bucket; LABELS
says "(archived)": SSM's labels went with the version). For each: the release key, the commit, who
recorded it (pipeline execution, rollback, promotion, rejection) and when, its labels, and whether its
deploy failed or was rejected.`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, JSON_OPTION);
    const [stageName = ''] = exactly(positionals, 1, 'history takes exactly one stage name');
    const runtime = cliRuntime(env, { tellsOps: false });
    const versions = (await readWholeHistory(runtime.clients, stageArg(runtime, stageName))).reverse();
    print(values.json ? versions : historyText(versions));
    return EXIT.ok;
  },
};

/** The table, then why each version a person recorded with a reason was recorded (break-glass). */
const historyText = (versions: ReleaseVersion[]): string =>
  [
    historyTable(versions),
    ...versions.flatMap((v) =>
      v.provenance.reason === undefined
        ? []
        : [`version ${v.version}: ${recordedBy(v, 'by hand')}, because ${quoted(v.provenance.reason, 200)}`],
    ),
  ].join('\n');

const historyTable = (versions: ReleaseVersion[]): string =>
  table(
    ['VERSION', 'WHEN', 'COMMIT', 'BY', 'RELEASE', 'STATE', 'LABELS'],
    versions.map((v) => [
      String(v.version),
      shown((v.provenance.startedAt ?? v.modifiedAt ?? '-').replace(/\.\d+Z$/, 'Z')),
      shortCommit(v.provenance.commit) ?? '-',
      recordedBy(v, 'by hand', 8),
      short(v.key),
      v.failed ? 'FAILED' : v.labels.some((l) => l.startsWith('rejected-')) ? 'rejected' : '',
      v.archived ? '(archived)' : v.labels.map((label) => shown(label)).join(' '),
    ]),
  );
