/**
 * KV version 1 (a mount with options.version "1"): one unversioned value per path, as Vault's kv v1 backend.
 *   GET    <mount>/<path>   → {data: {...}}           (404 when absent)
 *   PUT/POST <mount>/<path> → replaces the whole value (the body is the secret)
 *   DELETE <mount>/<path>   → removes it
 *   LIST   <mount>/[<path>] → immediate children ("leaf", "folder/")
 * Stored under `v1/<path>` in the mount's (barrier-encrypted) storage.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../../lib/errors.ts';
import { op, type PathDef } from '../../core/engine.ts';
import { decodeData, encode, isPlainObject, secretPath, type KvDeps, type SecretData } from './model.ts';

const PREFIX = 'v1/';
const MAX_VALUE_BYTES = 1024 * 1024;
const v1Key = (path: string): string => `${PREFIX}${path}`;

/** The body itself is the secret: any JSON object, passed through untouched. */
const anyObject = z.custom<SecretData>(isPlainObject, { error: 'must be a JSON object' });
const empty = z.object({});


export function createKvV1Paths(deps: KvDeps): PathDef[] {
  const list = async (folder: string) => {
    const keys = await deps.storage.list(`${PREFIX}${folder === '' ? '' : `${folder}/`}`);
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };
  return [
    { pattern: '', operations: { list: op(empty, async () => list('')) } },
    {
      pattern: '*path',
      exists: async (req) => (await deps.storage.get(v1Key(secretPath(req.params)))) !== null,
      operations: {
        read: op(empty, async ({ params }) => {
          const raw = await deps.storage.get(v1Key(secretPath(params)));
          if (!raw) throw notFound();
          return { data: decodeData(raw) };
        }),
        list: op(empty, async ({ params }) => list(secretPath(params))),
        update: op(anyObject, async ({ params, input }) => {
          const path = secretPath(params);
          if (Object.keys(input).length === 0) throw badRequest('missing data fields');
          const value = encode(input);
          if (value.length > MAX_VALUE_BYTES) throw badRequest('data: larger than 1 MiB');
          await deps.storage.put(v1Key(path), value);
          return { events: [{ type: 'kv-v1/data-write' }] };
        }),
        delete: op(empty, async ({ params }) => {
          await deps.storage.delete([v1Key(secretPath(params))]);
          return { events: [{ type: 'kv-v1/data-delete' }] };
        }),
      },
    },
  ];
}
