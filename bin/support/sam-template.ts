/**
 * Reads a SAM template the way `sam local invoke` does for one function: its handler, its bundle entry,
 * and its environment (Globals merged with the function's own, then overridden by an env-vars file in
 * SAM's format). Intrinsic functions are resolved where that is possible locally (pseudo parameters,
 * template parameters' defaults); a variable whose value needs a deployed resource is left unset and named.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tags } from 'yaml';

const INTRINSICS = [
  'Ref',
  'Sub',
  'GetAtt',
  'Join',
  'Select',
  'Split',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'FindInMap',
  'Base64',
  'Cidr',
  'ImportValue',
  'GetAZs',
  'Condition',
];

/** YAML tags for CloudFormation's short-form intrinsics (`!Ref X` becomes `{ Ref: 'X' }`). */
const cfnTags = (): Tags =>
  INTRINSICS.flatMap((name) => {
    const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
    return [
      {
        tag: `!${name}`,
        resolve: (value: string) => ({ [key]: name === 'GetAtt' ? value.split('.') : value }),
      },
      {
        tag: `!${name}`,
        collection: 'seq' as const,
        resolve: (seq: { toJSON(): unknown }) => ({ [key]: seq.toJSON() }),
      },
      {
        tag: `!${name}`,
        collection: 'map' as const,
        resolve: (map: { toJSON(): unknown }) => ({ [key]: map.toJSON() }),
      },
    ];
  });

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface FunctionDefinition {
  logicalId: string;
  /** "deploy.handler": the bundle's file name and the export. */
  handler: string;
  /** The esbuild entry point (handlers/deploy.ts). */
  entryPoint?: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Variables whose values were resolved locally. */
  environment: Record<string, string>;
  /** Variables the template sets from resources that exist only once deployed. */
  unresolved: string[];
}

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The template, parsed. With `cacheDir`, the parse is kept there as JSON under the digest of the template's
 * text, and a template already parsed is read from it: parsing YAML is most of what `deployer invoke` costs
 * beyond running the handler. A cache that cannot be written is only a slower next run.
 */
export const readTemplate = (path: string, cacheDir?: string): Record<string, Json> => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TemplateError(`cannot read template ${path}: ${(error as Error).message}`);
  }
  const cached = cacheDir
    ? join(cacheDir, `template-${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`)
    : undefined;
  if (cached) {
    try {
      return JSON.parse(readFileSync(cached, 'utf8')) as Record<string, Json>;
    } catch {
      // not parsed yet (or unreadable): parsed below
    }
  }
  // The YAML parser is loaded only when a template is not in the cache (most runs of `deployer invoke`).
  const { parse } = require('yaml') as typeof import('yaml');
  const parsed: unknown = parse(text, { customTags: cfnTags() });
  if (!isObject(parsed) || !isObject(parsed.Resources))
    throw new TemplateError(`${path} is not a SAM template (no Resources)`);
  if (cached) {
    try {
      mkdirSync(cacheDir as string, { recursive: true });
      const partial = `${cached}.${process.pid}.tmp`;
      writeFileSync(partial, JSON.stringify(parsed));
      renameSync(partial, cached);
    } catch {
      // a read-only checkout: parsed again next time
    }
  }
  return parsed;
};

const functionIds = (template: Record<string, Json>): string[] =>
  Object.entries(template.Resources as Record<string, Json>)
    .filter(([, resource]) => isObject(resource) && resource.Type === 'AWS::Serverless::Function')
    .map(([id]) => id);

interface Scope {
  parameters: Record<string, string>;
  pseudo: Record<string, string>;
  /** The template's Conditions, by name. */
  conditions?: Record<string, Json>;
}

/** A condition's value with the parameters' defaults, or undefined when it needs more than those. */
const conditionValue = (expression: Json, scope: Scope, depth = 0): boolean | undefined => {
  if (!isObject(expression) || depth > 20) return undefined;
  if (typeof expression.Condition === 'string') {
    const named = scope.conditions?.[expression.Condition];
    return named === undefined ? undefined : conditionValue(named, scope, depth + 1);
  }
  const [fn, args] = Object.entries(expression)[0] ?? [];
  if (!Array.isArray(args)) return undefined;
  const values = () => args.map((arg) => conditionValue(arg, scope, depth + 1));
  switch (fn) {
    case 'Fn::Equals': {
      const [a, b] = args.map((arg) => resolveValue(arg, scope));
      return a === undefined || b === undefined ? undefined : a === b;
    }
    case 'Fn::Not': {
      const [value] = values();
      return value === undefined ? undefined : !value;
    }
    case 'Fn::And':
      return values().includes(undefined) ? undefined : values().every(Boolean);
    case 'Fn::Or':
      return values().includes(undefined) ? undefined : values().some(Boolean);
    default:
      return undefined;
  }
};

/** The branch an Fn::If takes with the parameters' defaults: the value, or 'absent' for AWS::NoValue. */
const chosenBranch = (value: Json, scope: Scope): Json | 'absent' | undefined => {
  const branch = isObject(value) ? value['Fn::If'] : undefined;
  if (!Array.isArray(branch) || typeof branch[0] !== 'string') return value;
  const holds = conditionValue({ Condition: branch[0] }, scope);
  if (holds === undefined) return undefined;
  const chosen = (holds ? branch[1] : branch[2]) ?? null;
  return isObject(chosen) && chosen.Ref === 'AWS::NoValue' ? 'absent' : chosen;
};

/** Resolve an intrinsic locally, or undefined when it needs a deployed resource. */
const resolveValue = (value: Json, scope: Scope): string | undefined => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!isObject(value)) return undefined;
  if (typeof value.Ref === 'string') return scope.pseudo[value.Ref] ?? scope.parameters[value.Ref];
  const sub = value['Fn::Sub'];
  if (typeof sub === 'string') {
    let unresolved = false;
    const text = sub.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      const resolved = scope.pseudo[name] ?? scope.parameters[name];
      if (resolved === undefined) unresolved = true;
      return resolved ?? '';
    });
    return unresolved ? undefined : text;
  }
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map((part) => resolveValue(part, scope));
    return parts.every((p) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  return undefined;
};

const variablesOf = (node: Json | undefined): Record<string, Json> => {
  const environment = isObject(node) ? node.Environment : undefined;
  const variables = isObject(environment) ? environment.Variables : undefined;
  return isObject(variables) ? variables : {};
};

/**
 * The function's definition, with its environment resolved. `envVars` is the parsed content of a SAM
 * env-vars file: `{ "Parameters": {...for every function}, "<LogicalId>": {...for this one} }`.
 */
export const functionDefinition = (
  template: Record<string, Json>,
  logicalId: string,
  options: { region: string; accountId: string; envVars?: Record<string, unknown> },
): FunctionDefinition => {
  const resource = (template.Resources as Record<string, Json>)[logicalId];
  if (!isObject(resource) || resource.Type !== 'AWS::Serverless::Function') {
    throw new TemplateError(
      `no function ${JSON.stringify(logicalId)} in the template; functions: ${functionIds(template).join(', ')}`,
    );
  }
  const props = isObject(resource.Properties) ? resource.Properties : {};
  const globals =
    isObject(template.Globals) && isObject(template.Globals.Function) ? template.Globals.Function : {};
  const parameters = Object.fromEntries(
    Object.entries(isObject(template.Parameters) ? template.Parameters : {}).flatMap(([name, p]) =>
      isObject(p) && p.Default !== undefined ? [[name, String(p.Default)]] : [],
    ),
  );
  const scope: Scope = {
    parameters,
    pseudo: {
      'AWS::Region': options.region,
      'AWS::AccountId': options.accountId,
      'AWS::Partition': 'aws',
      'AWS::StackName': 'local',
      'AWS::URLSuffix': 'amazonaws.com',
    },
    ...(isObject(template.Conditions) ? { conditions: template.Conditions } : {}),
  };
  const declared = { ...variablesOf(globals), ...variablesOf(props) };
  const environment: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const [name, value] of Object.entries(declared)) {
    // A variable set only under a condition (`!If [Cond, value, !Ref AWS::NoValue]`) is absent when it does
    // not hold with the parameters' defaults.
    const branch = chosenBranch(value, scope);
    if (branch === 'absent') continue;
    const resolved = branch === undefined ? undefined : resolveValue(branch, scope);
    if (resolved === undefined) unresolved.push(name);
    else environment[name] = resolved;
  }
  const overrides = {
    ...envVarsFor(options.envVars, 'Parameters'),
    ...envVarsFor(options.envVars, logicalId),
  };
  for (const [name, value] of Object.entries(overrides)) {
    // SAM applies an env-vars entry only to variables the template declares.
    if (!(name in declared)) continue;
    environment[name] = value;
  }
  const metadata =
    isObject(resource.Metadata) && isObject(resource.Metadata.BuildProperties)
      ? resource.Metadata.BuildProperties
      : {};
  const entryPoints = Array.isArray(metadata.EntryPoints) ? metadata.EntryPoints : [];
  const handler = props.Handler ?? globals.Handler;
  if (typeof handler !== 'string' || !/^[\w./-]+\.[A-Za-z_$][\w$]*$/.test(handler)) {
    throw new TemplateError(`function ${logicalId} has no valid Handler ("file.export")`);
  }
  return {
    logicalId,
    handler,
    ...(typeof entryPoints[0] === 'string' ? { entryPoint: entryPoints[0] } : {}),
    timeoutSeconds: Number(props.Timeout ?? globals.Timeout ?? 3),
    memoryMb: Number(props.MemorySize ?? globals.MemorySize ?? 128),
    environment,
    unresolved: unresolved.filter((name) => !(name in environment)),
  };
};

const envVarsFor = (
  envVars: Record<string, unknown> | undefined,
  section: string,
): Record<string, string> => {
  const values = envVars?.[section];
  if (values === undefined) return {};
  if (!isObject(values as Json))
    throw new TemplateError(`env-vars: "${section}" must be an object of variable names to values`);
  return Object.fromEntries(
    Object.entries(values as Record<string, Json>).map(([name, value]) => {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new TemplateError(`env-vars: ${section}.${name} must be a string`);
      }
      return [name, String(value)];
    }),
  );
};
