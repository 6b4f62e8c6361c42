/** delete/*path, undelete/*path and destroy/*path: act on a list of versions; all answer 204. */
import { z } from 'zod';
import { op, type PathDef } from '../../../core/engine.ts';
import { changeVersions, deleteChange, destroyChange, undeleteChange, type ChangeFn } from '../change-versions.ts';
import { versionsField } from '../input.ts';
import { secretPath, type KvDeps } from '../model.ts';

const versionsInput = z.object({ versions: versionsField });

export function createVersionsPaths(deps: KvDeps): PathDef[] {
  const path = (prefix: 'delete' | 'undelete' | 'destroy', change: ChangeFn): PathDef => ({
    pattern: `${prefix}/*path`,
    operations: {
      update: op(versionsInput, async ({ params, input }) => {
        const p = secretPath(params);
        await changeVersions(deps, p, input.versions, change);
        return { events: [{ type: `kv-v2/data-${prefix}`, path: `data/${p}` }] };
      }),
    },
  });
  return [path('delete', deleteChange), path('undelete', undeleteChange), path('destroy', destroyChange)];
}
