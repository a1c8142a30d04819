/**
 * The configuration's shape and the questions every part asks of it (which stages, which pipeline, which
 * bucket), apart from its schema (config.ts): the functions run on a configuration the build validated, and
 * load no schema at cold start.
 */
import type { DeployerConfig } from './config';

export type { DeployerConfig };
export type StageSettings = DeployerConfig['pipelines'][string]['stages'][string];
/** A stage with the names it is known by. */
export interface Stage extends StageSettings {
  name: string;
  pipeline: string;
}

/** Every stage of every pipeline, in file order. */
export const allStages = (config: DeployerConfig): Stage[] =>
  Object.entries(config.pipelines).flatMap(([pipeline, { stages }]) =>
    Object.entries(stages).map(([name, settings]) => ({ ...settings, name, pipeline })),
  );

/** The stage with this name, or undefined. Stage names are unique across pipelines. */
export const stageNamed = (config: DeployerConfig, name: string): Stage | undefined =>
  allStages(config).find((stage) => stage.name === name);

/** The stages a pipeline deploys to, or undefined for a pipeline that is not configured. */
export const stagesOfPipeline = (config: DeployerConfig, pipeline: string): Stage[] | undefined =>
  Object.hasOwn(config.pipelines, pipeline)
    ? allStages(config).filter((s) => s.pipeline === pipeline)
    : undefined;

/** The bucket that holds a stage's release objects. */
export const releaseBucketOf = (stage: StageSettings): string => stage.releaseBucket ?? stage.artifact.bucket;
