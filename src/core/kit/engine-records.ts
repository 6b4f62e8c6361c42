/**
 * Part of the engine contract: the CRUD paths of a collection of named JSON records in an engine's storage
 * (`role/:name`, `certs/:name`, …): LIST the names, read, write (merge into the stored record under a lock), delete,
 * and an existence check that decides `create` versus `update` with the same name rules as the handlers.
 */
import { z } from 'zod';
import { notFound } from '../../lib/errors.ts';
import { op, type EngineStorage, type PathDef, type StorageView } from '../engine.ts';
import { getJson, putJson } from '../../lib/stored-json.ts';

export interface NamedRecords<R, S extends z.ZodType> {
  storage: EngineStorage;
  /** The URL segment of the collection: 'role' serves `role` (LIST) and `role/:name`. */
  collection: string;
  /** The storage key prefix, e.g. 'role/'. */
  prefix: string;
  /** Normalises and checks a name from the path; throws a 400 for a bad one. */
  name: (raw: string) => string;
  input: S;
  /** The record's stored form: what a read parses (with defaults for fields added later). */
  record: z.ZodType<R, unknown>;
  /**
   * Merges a write into the stored record (null when there is none yet); validates; throws a 400. Runs under the
   * record's lock; `s` is that lock's storage handle, for checks against other records (use no other storage inside).
   */
  apply: (current: R | null, input: z.output<S>, name: string, s: StorageView) => R | Promise<R>;
  /** The record as the API shows it. */
  wire: (record: R) => Record<string, unknown>;
}

const empty = z.object({});

export function namedRecordPaths<R, S extends z.ZodType>(spec: NamedRecords<R, S>): PathDef[] {
  const key = (name: string): string => `${spec.prefix}${name}`;
  const load = (s: Pick<StorageView, 'get'>, name: string): Promise<R | null> => getJson(s, key(name), spec.record);
  const nameOf = (params: Readonly<Record<string, string>>): string => spec.name(params.name ?? '');
  return [
    {
      pattern: spec.collection,
      operations: {
        list: op(empty, async () => {
          const keys = await spec.storage.list(spec.prefix);
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: `${spec.collection}/:name`,
      exists: async (req) => {
        let name: string;
        try {
          name = nameOf(req.params);
        } catch {
          return false;
        }
        return (await spec.storage.get(key(name))) !== null;
      },
      operations: {
        read: op(empty, async ({ params }) => {
          const record = await load(spec.storage, nameOf(params));
          if (!record) throw notFound();
          return { data: spec.wire(record) };
        }),
        update: op(spec.input, async ({ params, input }) => {
          const name = nameOf(params);
          await spec.storage.locked(key(name), async (s) => {
            const record = await spec.apply(await load(s, name), input, name, s);
            await putJson(s, key(name), record);
          });
          return {};
        }),
        delete: op(empty, async ({ params }) => {
          await spec.storage.delete([key(nameOf(params))]);
          return {};
        }),
      },
    },
  ];
}

export interface SingleRecord<R, S extends z.ZodType> {
  storage: EngineStorage;
  /** The path and the storage key, e.g. 'config'. */
  pattern: string;
  input: S;
  /** Builds the whole record from a write (each write replaces it, as Vault's auth configs do); throws a 400. */
  build: (input: z.output<S>) => R | Promise<R>;
  wire: (record: R) => Record<string, unknown>;
}

/** Read and replace one JSON record (an auth method's `config`). */
export function singleRecordPaths<R, S extends z.ZodType>(spec: SingleRecord<R, S>): PathDef[] {
  return [
    {
      pattern: spec.pattern,
      operations: {
        read: op(empty, async () => {
          const raw = await spec.storage.get(spec.pattern);
          if (!raw) throw notFound();
          return { data: spec.wire(JSON.parse(raw.toString('utf8')) as R) };
        }),
        update: op(spec.input, async ({ input }) => {
          await spec.storage.put(spec.pattern, Buffer.from(JSON.stringify(await spec.build(input)), 'utf8'));
          return {};
        }),
      },
    },
  ];
}
