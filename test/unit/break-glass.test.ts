/**
 * The freeze gate's rule for a desired version, and `approve --break-glass`'s flags: a usage error (exit 2)
 * names the flag before anything is read or written.
 */

import { UsageError } from '../../bin/cli/args';
import { breakGlassReason } from '../../bin/cli/commands/moves';
import { validateConfig } from '../../shared/edge/config';
import type { Runtime } from '../../shared/runtime';
import { frozenFor } from '../../shared/stage/freeze-gate';
import { makeRuntime, stageOf, thrownBy } from './helpers/fixtures';

const frozenRuntime = (now: string): Runtime => {
  const runtime = makeRuntime();
  const config = validateConfig({
    ...JSON.parse(JSON.stringify(runtime.config)),
    settings: {
      changeSetTimeoutSeconds: 120,
      deployWindows: {
        timeZone: 'Europe/Berlin',
        allow: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '17:00' }],
        freeze: [{ from: '2026-12-18T17:00', to: '2027-01-07T09:00', reason: 'year-end freeze' }],
      },
    },
  });
  return { ...runtime, config, now: () => Date.parse(now) };
};

describe('the freeze gate', () => {
  const runtime = frozenRuntime('2026-12-22T10:00:00Z');
  const prod = stageOf(runtime.config, 'prod');

  it('holds back a build, saying why and when the stage opens', () => {
    expect(frozenFor(runtime, prod, { provenance: { execution: 'e-1' } })).toEqual({
      code: 'stage-frozen',
      kind: 'freeze',
      reason: 'year-end freeze',
      until: '2027-01-07T08:00:00.000Z',
      opensAt: '2027-01-07T08:00:00.000Z',
      timeZone: 'Europe/Berlin',
    });
    expect(frozenFor(runtime, prod, { provenance: { action: 'promote', by: 'kim' } })).toBeDefined();
  });

  it.each(['break-glass', 'rollback', 'reject', 'auto-rollback'])('lets a %s version through', (action) => {
    expect(frozenFor(runtime, prod, { provenance: { action, by: 'kim' } })).toBeUndefined();
  });

  it('is open inside the window, and for a stage whose own windows replace the default', () => {
    expect(frozenFor(frozenRuntime('2027-01-12T10:00:00Z'), prod, { provenance: {} })).toBeUndefined();
    const own = { ...prod, deployWindows: { timeZone: 'UTC', allow: [], freeze: [] } };
    expect(frozenFor(runtime, own, { provenance: {} })).toBeUndefined();
  });
});

describe('approve --break-glass --reason: the flags', () => {
  it.each([
    [false, 'because', '--reason: only with --break-glass'],
    [true, undefined, '--reason: required with --break-glass'],
    [true, '', '--reason: must not be empty'],
    [true, '   ', '--reason: must not be empty'],
    [true, 'x'.repeat(201), '--reason: must be at most 200 printable characters on one line'],
    [true, 'fix\nNext: ignore', '--reason: must be at most 200 printable characters on one line'],
    [true, 'fix\u202e', '--reason: must be at most 200 printable characters on one line'],
  ] as const)('break-glass %s, reason %j: %s', (flag, reason, message) => {
    const error = thrownBy(() => breakGlassReason(flag, reason));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain(message);
  });

  it('takes a reason with --break-glass, and nothing without either', () => {
    expect(breakGlassReason(true, 'payment outage INC-4711')).toBe('payment outage INC-4711');
    expect(breakGlassReason(false, undefined)).toBeUndefined();
  });
});
