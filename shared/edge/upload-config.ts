/**
 * What the configuration says differently for a pipeline whose builds a CI uploads itself (`source: upload`)
 * instead of a CodePipeline execution: the metadata key that names the build (`build-id` rather than
 * `pipeline-execution-id`), and the rules of its keys — an upload is the trigger, so no two upload pipelines
 * may claim one object, and a stage's template upload is never taken for its build.
 */
import { isUploadKey, keyShape, shapesOverlap } from './upload-keys';

export const PIPELINE_SOURCES = ['codepipeline', 'upload'] as const;
export type PipelineSource = (typeof PIPELINE_SOURCES)[number];

/** The object metadata key that names the build's execution, unless a stage names another. */
export const DEFAULT_EXECUTION_METADATA_KEY: Record<PipelineSource, string> = {
  codepipeline: 'pipeline-execution-id',
  upload: 'build-id',
};

interface StageKeys {
  artifact: { bucket: string; key: string; templateKey?: string | undefined; executionMetadataKey?: string };
}

type WithExecutionKey<S extends StageKeys> = S & {
  artifact: S['artifact'] & { executionMetadataKey: string };
};

/** A pipeline's stages with the execution metadata key its source implies where a stage names none. */
export const withMetadataDefaults = <S extends StageKeys>(pipeline: {
  source: PipelineSource;
  stages: Record<string, S>;
}): { source: PipelineSource; stages: Record<string, WithExecutionKey<S>> } => ({
  source: pipeline.source,
  stages: Object.fromEntries(
    Object.entries(pipeline.stages).map(([name, stage]) => [
      name,
      {
        ...stage,
        artifact: {
          ...stage.artifact,
          executionMetadataKey:
            stage.artifact.executionMetadataKey ?? DEFAULT_EXECUTION_METADATA_KEY[pipeline.source],
        },
      },
    ]),
  ),
});

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

interface UploadKey {
  pipeline: string;
  stage: string;
  field: 'key' | 'templateKey';
  bucket: string;
  template: string;
}

const keysOf = (pipelines: Record<string, { source: PipelineSource; stages: Record<string, StageKeys> }>) =>
  Object.entries(pipelines)
    .filter(([, p]) => p.source === 'upload')
    .flatMap(([pipeline, { stages }]) =>
      Object.entries(stages).flatMap(([stage, { artifact }]) =>
        (['key', 'templateKey'] as const).flatMap((field): UploadKey[] => {
          const template = artifact[field];
          return template === undefined
            ? []
            : [{ pipeline, stage, field, bucket: artifact.bucket, template }];
        }),
      ),
    );

const pathOf = (k: UploadKey) => ['pipelines', k.pipeline, 'stages', k.stage, 'artifact', k.field];

/**
 * What upload pipelines' keys may not be: anything but letters, digits, ".", "_", "-", "/" and one
 * `{executionId}`; and two keys that could name the same object, unless they are the build keys of two
 * stages of one pipeline (one build deployed to several stages).
 */
export const uploadConfigIssues = (
  pipelines: Record<string, { source: PipelineSource; stages: Record<string, StageKeys> }>,
): ConfigIssue[] => {
  const keys = keysOf(pipelines);
  const issues: ConfigIssue[] = keys
    .filter((k) => !isUploadKey(k.template, k.pipeline))
    .map((k) => ({
      path: pathOf(k),
      message:
        'an upload pipeline\'s key may use only letters, digits, ".", "_", "-", "/", {pipeline} and one {executionId}',
    }));
  if (issues.length > 0) return issues;
  keys.forEach((k, i) => {
    const other = keys
      .slice(0, i)
      .find(
        (o) =>
          o.bucket === k.bucket &&
          !(o.pipeline === k.pipeline && o.field === k.field) &&
          shapesOverlap(keyShape(o.template, o.pipeline), keyShape(k.template, k.pipeline)),
      );
    if (other)
      issues.push({
        path: pathOf(k),
        message: `could name the same object as pipelines.${other.pipeline}.stages.${other.stage}.artifact.${other.field}: an upload must belong to one pipeline, and a template upload is never a build`,
      });
  });
  return issues;
};
