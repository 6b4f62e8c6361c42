/** The seal at start-up: dev mode initialises and unseals itself (mounting kv at secret/ once); a static seal unseals itself. */
import type { AppDeps } from '../app.ts';
import { bootDevSeal } from '../core/seal/dev-seal.ts';
import { bootStaticSeal } from '../core/seal/static-seal.ts';
import type { CoreBundle } from './core.ts';

export async function bootSeal({ config, random }: AppDeps, core: CoreBundle): Promise<{ rootToken: string; unsealKey: string } | undefined> {
  const { seal, tokens, mounts, staticKey } = core;
  if (config.dev) {
    const creds = await bootDevSeal(
      {
        dataDir: config.data_dir,
        seal,
        tokens,
        random,
        onInitialize: async (q, rootKey) => {
          await mounts.mount({ path: 'secret', class: 'secret', type: 'kv', description: 'key/value secret storage', config: {}, options: { version: '2' } }, q, rootKey);
        },
      },
      config.dev_root_token,
    );
    // (The unseal reloaded the mount table, the new secret/ mount included.)
    return { rootToken: creds.root_token, unsealKey: creds.unseal_key };
  }
  if (staticKey) await bootStaticSeal(seal, staticKey);
  return undefined;
}
