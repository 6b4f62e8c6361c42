// `node --import ./scripts/ts-loader.mjs file.ts`: runs TypeScript sources as they are. The tests' loader
// (ava.config.mjs nodeArguments); the benches still use tsx. The hooks are in ts-hooks.mjs. Stack traces name the .ts lines.
import { register } from 'node:module';
import process from 'node:process';

process.setSourceMapsEnabled(true);
register('./ts-hooks.mjs', import.meta.url);
