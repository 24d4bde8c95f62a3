import { SETTINGS } from './schema.js';

/** docs/configuration.md, generated from the schema so the two cannot drift. */
export function renderConfigDoc(): string {
  const rows = SETTINGS.map((s) => {
    const def = s.default === undefined ? '—' : `\`${s.default}\``;
    return `| \`${s.env}\` | \`${s.flag}\` | ${s.type} | ${def} | ${s.description.replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; a test fails when it drifts. -->',
    '',
    'Every setting is an environment variable and a `keygate start` flag (the flag wins). Values are',
    'validated once at start; an invalid one stops Keygate with a message naming the setting.',
    '',
    '| env var | flag | type | default | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
