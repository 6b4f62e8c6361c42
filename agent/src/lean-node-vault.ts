/**
 * Import this before node-vault. node-vault requires axios at load time even when it is given its own transport
 * (`request-promise`, see http-transport.ts); axios pulls in form-data and mime-db and probes `fetch` (which loads
 * undici and compiles its WebAssembly parser). Together that is over 15 MB of RSS in every pod. This resolves
 * node-vault's `require('axios')` to a stub that refuses to be used, so the agent's transport is the only one.
 */
import Module from 'node:module';

type Load = (request: string, parent: { filename?: string } | null | undefined, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load };
const original = loader._load;
const stub = {
  create(): never {
    throw new Error('sealbox-agent: node-vault must use the agent transport (request-promise option), not axios');
  },
};

loader._load = function load(request, parent, isMain) {
  if (request === 'axios' && parent?.filename?.includes(`${'node-vault'}`)) return stub;
  return original.call(this, request, parent, isMain);
};
