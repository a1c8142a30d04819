/**
 * The stateful AWS world of the stack-notification, settle and operation tests, on top of the deploy world
 * of world.ts: the releases and stage templates released in the artifact bucket, stacks, SSM parameter
 * histories with labels, and stack event pages (the fakes of aws-fakes.ts). Nothing here talks to the
 * network.
 */
import { fakeParameters, fakeStacks, type ParametersState, type StacksState } from './aws-fakes';
import { putRelease, TEMPLATE, TEMPLATE_WITH_QUEUE } from './releases';
import type { S3Store } from './s3-store';
import { NEW_RELEASE, NEWER_RELEASE } from './stack-builders';
import { givenWorld, type Mocks, OLD_RELEASE } from './world';

/** Stacks (by name), parameter histories (by name) and stack event pages, as aws-fakes.ts describes them. */
export interface StackWorld extends StacksState, ParametersState {
  /**
   * The artifact bucket: the releases OLD_KEY, NEW_KEY and NEWER_KEY and the released stage templates are
   * there (verified copies), and so are the stage lock and the deployer's run records.
   */
  s3: S3Store;
}

/**
 * The deploy world of world.ts (change sets computed at once, SNS accepts, an in-memory S3 that holds the
 * stage lock), the releases OLD_KEY, NEW_KEY, NEWER_KEY and the stage templates TEMPLATE and
 * TEMPLATE_WITH_QUEUE released in the artifact bucket, a stateful SSM and stacks with their event pages
 * (see aws-fakes.ts). Returns the state, which tests may change.
 */
export const givenStackWorld = (mocks: Mocks, start: Partial<StackWorld> = {}): StackWorld => {
  const s3 = givenWorld(mocks);
  for (const release of [OLD_RELEASE, NEW_RELEASE, NEWER_RELEASE, TEMPLATE, TEMPLATE_WITH_QUEUE])
    putRelease(s3, release);
  const world: StackWorld = {
    stacks: start.stacks ?? {},
    history: start.history ?? {},
    events: start.events ?? [[]],
    s3,
  };
  fakeStacks(mocks, world);
  fakeParameters(mocks, world);
  return world;
};
