import { parsePipelineEvent } from '../../shared/events';
import { validateConfig } from '../../shared/config';
import { loadEvent } from './helpers/fixtures';
import { readFileSync } from 'node:fs';

it('probe', () => {
  for (const t of ['2026-11-20T10:09:03+99:99', '2026-11-20T10:09:03+24:00', '2026-11-20T10:09:03+2300', '0000-01-01T00:00:00Z', '2026-11-20T10:09:03.123456789Z', '2026-11-20T10:09:03-23:59']) {
    const e = loadEvent('pipeline-succeeded');
    e.detail['start-time'] = t;
    try { console.log(t, parsePipelineEvent(e).startedAt); } catch (err) { console.log(t, (err as Error).name, (err as Error).message.slice(0, 150)); }
  }
  const cfg = JSON.parse(readFileSync('deployer.config.json', 'utf8'));
  const text = JSON.stringify(cfg).replace('"orders-api-pipeline"', '"__proto__"');
  const raw = JSON.parse(text);
  console.log(Object.keys(raw.pipelines));
  try { const c = validateConfig(raw); console.log('cfg ok', Object.keys(c.pipelines), Object.getPrototypeOf(c.pipelines) === Object.prototype, JSON.stringify(c.pipelines).slice(0,100)); } catch (err) { console.log((err as Error).name, (err as Error).message.slice(0, 300)); }
  const text2 = JSON.stringify(cfg).replace('"dev"', '"constructor"');
  try { const c = validateConfig(JSON.parse(text2)); console.log('cfg2 ok', Object.keys(c.pipelines['orders-api-pipeline']?.stages ?? {})); } catch (err) { console.log((err as Error).name, (err as Error).message.slice(0, 300)); }
});
