// The YAML parser, which config.ts imports only for a config file that is not JSON (memory in every pod). A module of
// its own: yaml is CommonJS, and esbuild gives a lazily loaded chunk named exports only when an ES module of ours
// re-exports them (a bare `await import('yaml')` in the agent's bundle has a default export and no `parse`).
export { parse } from 'yaml';
