/**
 * The stage a person names, or a refusal that names the stages there are (RefusedError: nothing was
 * changed; the command line exits 4 on these).
 */
import { type Stage, stageNamed } from '../edge/stages';
import { RefusedError } from '../errors';
import type { Runtime } from '../runtime';

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
