/**
 * How the benchmark prints: markdown tables, medians, and the goals of issue 13 collected as one table of
 * rows "metric | goal | ours | floor | ratio | met", printed at the end from the figures of this one run.
 */
export const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** The median of the ratios of interleaved pairs: each pair ran moments apart, so the machine's drift cancels. */
export const pairedRatio = (ours: number[], theirs: number[]): number =>
  median(ours.map((value, i) => value / (theirs[i] ?? value)));

export const table = (header: string[], rows: (string | number)[][]): void => {
  say(`| ${header.join(' | ')} |`);
  say(`| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) say(`| ${row.join(' | ')} |`);
  say();
};

export const ms = (value: number): string => `${value.toFixed(0)} ms`;

export interface Goal {
  metric: string;
  /** The goal as written ("≤ 1.25× the floor"). */
  goal: string;
  ours: string;
  floor: string;
  ratio: string;
  met: boolean;
}

const goals: Goal[] = [];

export const goal = (row: Goal): void => {
  goals.push(row);
};

export const printGoals = (): void => {
  say('## Goals (issue 13), from this run\n');
  table(
    ['metric', 'goal', 'ours', 'floor', 'ratio', 'met'],
    goals.map((g) => [g.metric, g.goal, g.ours, g.floor, g.ratio, g.met ? 'yes' : '**NO**']),
  );
};
