/**
 * samconfig.toml as SAM CLI reads it: every environment's `parameter_overrides` parsed by the rule of SAM CLI's
 * own `CfnParameterOverridesType` (aws-sam-cli, samcli/cli/types.py), which fails the command on an entry it
 * cannot match ("OpsEmail=" "is not in valid format") and silently drops what a partial match leaves over.
 * Every entry must parse whole, name a parameter of template.yaml and satisfy its constraints.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { readTemplate } from '../../bin/support/sam-template';

const ROOT = join(__dirname, '..', '..');

// ---- SAM CLI's rule, as written in samcli/cli/types.py ----

/** PARAM_AND_METADATA_KEY_REGEX */
const KEY = `([A-Za-z0-9"']+)`;
/** _generate_match_regex(match_pattern=".", delim=" "): a double-quoted, single-quoted or bare value. */
const VALUE = `("(?:\\\\.|[^"\\\\]+)*"|'(?:\\\\.|[^'\\\\]+)*'|(?:\\\\.|[^ "\\\\]+)+)`;
/** ordered_pattern_match: the first pattern that matches an entry at all parses all of it. */
const PATTERNS = [`(?:ParameterKey=${KEY},ParameterValue=${VALUE})`, `(?:(?: )${KEY}=${VALUE})`];

/** _unquote_wrapped_quotes */
const unquote = (value: string): string => {
  const wrapped = value.length > 0 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'");
  return (wrapped ? value.slice(1, -1) : value)
    .replaceAll('\\ ', ' ')
    .replaceAll('\\"', '"')
    .replaceAll("\\'", "'");
};

class SamParameterError extends Error {}

/** CfnParameterOverridesType.convert: a string, or a list of strings as samconfig.toml may hold them. */
const samParameterOverrides = (value: string | string[]): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const entry of typeof value === 'string' ? [value] : value) {
    // SAM adds a space in front so that the second pattern matches the first pair.
    const normalized = ` ${entry.trim()}`;
    const pattern = PATTERNS.find((p) => new RegExp(p).test(normalized));
    if (!pattern) throw new SamParameterError(`${entry} is not in valid format`);
    for (const [, key = '', parameterValue = ''] of normalized.matchAll(new RegExp(pattern, 'g')))
      result[unquote(key)] = unquote(parameterValue);
  }
  return result;
};

// ---- the repository's files ----

type Sections = Record<string, { parameters?: Record<string, unknown> }>;

const samconfig = parseToml(readFileSync(join(ROOT, 'samconfig.toml'), 'utf8')) as Record<string, unknown>;

/** Every [env.command.parameters] table that sets parameter_overrides: "prod.deploy" and so on. */
const overrideSections = Object.entries(samconfig).flatMap(([env, commands]) =>
  typeof commands === 'object' && commands !== null
    ? Object.entries(commands as Sections).flatMap(([command, section]) => {
        const overrides = section.parameters?.parameter_overrides;
        return overrides === undefined ? [] : [{ section: `${env}.${command}`, command, overrides }];
      })
    : [],
);

interface TemplateParameter {
  Type: string;
  Default?: unknown;
  AllowedPattern?: string;
  AllowedValues?: unknown[];
  MinLength?: number;
}
const parameters = readTemplate(join(ROOT, 'template.yaml')).Parameters as unknown as Record<
  string,
  TemplateParameter
>;

/** What a person means by each entry: the name before the first "=", the rest as the value. */
const intended = (overrides: string | string[]): Record<string, string> =>
  Object.fromEntries(
    (typeof overrides === 'string' ? overrides.trim().split(/\s+/) : overrides).map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );

describe("SAM CLI's parameter_overrides rule, as ported here", () => {
  it('parses both forms SAM documents, quoted values included', () => {
    expect(samParameterOverrides('KeyPairName=MyKey InstanceType=t1.micro')).toEqual({
      KeyPairName: 'MyKey',
      InstanceType: 't1.micro',
    });
    expect(
      samParameterOverrides(
        'ParameterKey=KeyPairName,ParameterValue=MyKey ParameterKey=InstanceType,ParameterValue=t1.micro',
      ),
    ).toEqual({ KeyPairName: 'MyKey', InstanceType: 't1.micro' });
    expect(samParameterOverrides(['Name="two words"', "Other='x y'", 'List=a,b'])).toEqual({
      Name: 'two words',
      Other: 'x y',
      List: 'a,b',
    });
  });

  it('rejects an empty value, as SAM CLI did with the shipped "OpsEmail="', () => {
    expect(() => samParameterOverrides(['ArtifactBucketName=b', 'OpsEmail='])).toThrow(
      'OpsEmail= is not in valid format',
    );
  });

  it('keeps only what matches: a value with a space loses its second word', () => {
    expect(samParameterOverrides(['Name=two words'])).toEqual({ Name: 'two' });
  });
});

describe('samconfig.toml', () => {
  it('sets parameter_overrides in the sections sam deploy and sam local invoke read', () => {
    expect(overrideSections.map((s) => s.section).sort()).toEqual([
      'default.deploy',
      'default.local_invoke',
      'prod.deploy',
    ]);
  });

  describe.each(overrideSections)('[$section.parameters] parameter_overrides', ({ command, overrides }) => {
    const list = overrides as string | string[];

    it("is accepted whole by SAM CLI's parser", () => {
      expect(samParameterOverrides(list)).toEqual(intended(list));
    });

    it("names only template.yaml's parameters, each value within its constraints", () => {
      for (const [name, value] of Object.entries(samParameterOverrides(list))) {
        const parameter = parameters[name];
        expect({ name, declared: parameter !== undefined }).toEqual({ name, declared: true });
        if (!parameter) continue;
        if (parameter.AllowedPattern)
          expect({ name, value, ok: new RegExp(parameter.AllowedPattern).test(value) }).toMatchObject({
            ok: true,
          });
        if (parameter.AllowedValues) expect(parameter.AllowedValues.map(String)).toContain(value);
        if (parameter.MinLength !== undefined)
          expect(value.length).toBeGreaterThanOrEqual(parameter.MinLength);
        if (parameter.Type === 'CommaDelimitedList')
          expect(value.split(',').every((item) => item.length > 0)).toBe(true);
      }
    });

    it('gives every parameter that has no default', () => {
      const given = samParameterOverrides(list);
      const required = Object.entries(parameters)
        .filter(([, p]) => p.Default === undefined)
        .map(([name]) => name);
      expect({ command, missing: required.filter((name) => !(name in given)) }).toEqual({
        command,
        missing: [],
      });
    });
  });
});
