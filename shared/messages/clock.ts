/** Times and counts as the messages about API-call windows write them, in both forms. */

/** "10:10", in UTC. */
export const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
/** "2026-11-20", in UTC. */
export const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
