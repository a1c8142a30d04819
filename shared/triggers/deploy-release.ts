/**
 * The deploy trigger's release step: the build of a pipeline execution put under its immutable release key
 * (once per invocation for stages that share it), the template a stage's first release pins, and what is
 * said when a build cannot be released. Also when a delivery is a first one.
 */
import { type BuildArtifact, locateBuild, type Release, releaseBuild } from '../aws/artifacts';
import { pinConfiguredTemplate, releaseBuildTemplate } from '../aws/release-templates';
import { locateUpload } from '../aws/uploads';
import type { PipelineExecution } from '../edge/events';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { logger } from '../logger';
import { announceDeployOnce } from '../messages/ledger';
import { ledgerKeys } from '../messages/ledger-keys';
import type { Runtime } from '../runtime';
import type { Observed } from '../stage/reconcile';

/**
 * The configured template is the template of a stage's first release, and of the release that creates a
 * stack that does not exist yet; an existing stack keeps its own template until a build brings one.
 */
export const firstTemplate = async (
  runtime: Runtime,
  stage: Stage,
  firstVersion: boolean,
  observing: Promise<Observed>,
) => {
  if (!stage.template) return undefined;
  if (!firstVersion && (await observing).stack) return undefined;
  return pinConfiguredTemplate(runtime.clients.s3, stage);
};

/**
 * Release the build once per invocation for stages that share a source and a release location. The build
 * (and its template) are found at once, beside the stage's lock being taken; they are copied once `copyAfter`
 * resolves: when a stage of the event took its lock or waits for it. A delivery that every stage stops at
 * once (a later build holds each) copies nothing.
 */
export const releaseOnce = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  releases: Map<string, Promise<unknown>>,
  copyAfter: Promise<unknown> = Promise.resolve(),
): Promise<Release> => {
  const { s3 } = runtime.clients;
  const { bucket, key, executionMetadataKey, commitMetadataKey, templateKey } = stage.artifact;
  const where = [releaseBucketOf(stage), stage.releasePrefix];
  // The artifact and the template the build published beside it are released together; stages that share a
  // source and a release location share each release (a stage may publish a template where another does not).
  const [artifact, template] = await Promise.all([
    once(releases, ['artifact', bucket, key, executionMetadataKey, commitMetadataKey, ...where], () =>
      // An upload is released from exactly the object its event named; a pipeline's build is looked up.
      (execution.upload ? locateUpload(s3, stage, execution) : locateBuild(s3, stage, execution)).then(
        async (build: BuildArtifact) => {
          await copyAfter;
          return releaseBuild(s3, stage, build, execution);
        },
      ),
    ),
    once(releases, ['template', bucket, templateKey ?? '', executionMetadataKey, ...where], () =>
      releaseBuildTemplate(s3, stage, execution, copyAfter),
    ),
  ]);
  return template ? { ...artifact, template } : artifact;
};

/** A promise that resolves once `open` is called (the first call counts). */
export const gate = (): { opened: Promise<void>; open: () => void } => {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
};

/** The promise made for this id in this invocation, or a new one. */
const once = <T>(cache: Map<string, Promise<unknown>>, id: string[], make: () => Promise<T>): Promise<T> => {
  const key = JSON.stringify(id);
  const found = cache.get(key) as Promise<T> | undefined;
  if (found) return found;
  const made = make();
  cache.set(key, made);
  return made;
};

/**
 * A first delivery: sent less than a minute ago. Lambda retries a failed invocation a minute later at the
 * earliest, so a younger event is no retry of a delivery that recorded its version and failed before
 * reporting it (that one reports it itself, when it is retried).
 */
export const isFirstDelivery = (execution: PipelineExecution): boolean =>
  execution.sentAt !== undefined && Date.now() - Date.parse(execution.sentAt) < FIRST_DELIVERY_MS;
const FIRST_DELIVERY_MS = 60_000;

/** A build that cannot be released: nothing is recorded; the ledger keeps a redelivery quiet. */
export const reportUnreleasable = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  error: Error,
): Promise<{ stage: string; stack: string; outcome: 'failed'; notified: boolean; error: string }> => {
  const base = { stage: stage.name, stack: stage.stack };
  logger.error('build cannot be released', {
    ...base,
    executionId: execution.executionId,
    reason: error.message,
  });
  const key = ledgerKeys.deployOutcome(stage.name, execution.executionId, 'failed');
  const notified = await announceDeployOnce(runtime, key, {
    outcome: 'failed',
    ...base,
    execution,
    error: error.message,
  });
  return { ...base, outcome: 'failed', notified, error: error.message };
};
