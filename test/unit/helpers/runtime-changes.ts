/**
 * A runtime of the repository's configuration with notification settings, muted stages and the deployer's
 * own roles changed, for the stack-notification and settle tests. Nothing here talks to the network.
 */
import type * as z from 'zod/mini';
import type { configSchema } from '../../../shared/edge/config';
import type { Settings } from '../../../shared/edge/settings';
import type { Runtime } from '../../../shared/runtime';
import { makeRuntime, repoConfigText } from './fixtures';

export interface RuntimeChanges {
  /** The configuration's notification settings, as its schema takes them in. */
  notifications?: z.input<typeof configSchema>['notifications'];
  /** Stages to mute. */
  mute?: ('dev' | 'prod')[];
  /** The deployer's own IAM role names (DEPLOYER_ROLE_NAMES). */
  ownRoles?: Settings['ownRoles'];
}

/** The repository's deployer.config.yaml with notification settings and muted stages added. */
export const configTextWith = (changes: RuntimeChanges): string => {
  let text = repoConfigText();
  for (const stage of changes.mute ?? []) {
    const line = `        stack: orders-api-${stage}\n`;
    if (!text.includes(line)) throw new Error(`test setup: no stack line for stage ${stage}`);
    text = text.replace(line, `${line}        mute: true\n`);
  }
  const settings = Object.entries(changes.notifications ?? {});
  if (settings.length > 0) {
    text += `\nnotifications:\n${settings.map(([name, value]) => `  ${name}: ${String(value)}\n`).join('')}`;
  }
  return text;
};

/** A runtime (see makeRuntime) built from the repository's configuration with these changes. */
export const runtimeWith = (changes: RuntimeChanges = {}): Runtime => {
  const runtime = makeRuntime(configTextWith(changes));
  if (changes.ownRoles) runtime.settings = { ...runtime.settings, ownRoles: changes.ownRoles };
  return runtime;
};
