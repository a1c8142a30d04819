/**
 * A person's move that the deployer refuses: nothing was changed, and the message says why. The command line
 * exits 4 on these.
 */
import { type Stage, stageNamed } from '../edge/config';
import { PermanentError } from '../errors';
import type { Runtime } from '../runtime';

export class RefusedError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefusedError';
  }
}

export const stageOrRefuse = (runtime: Runtime, name: string): Stage => {
  const stage = stageNamed(runtime.config, name);
  if (!stage) {
    const known = Object.values(runtime.config.pipelines).flatMap((p) => Object.keys(p.stages));
    throw new RefusedError(
      `no stage named ${JSON.stringify(name.slice(0, 64))} (configured: ${known.join(', ')})`,
    );
  }
  return stage;
};
