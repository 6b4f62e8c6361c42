import type { EngineFactory } from './core/engine.ts';
import { approleEngine } from './engines/approle/index.ts';
import { certEngine } from './engines/cert/index.ts';
import { databaseEngine } from './engines/database/index.ts';
import { jwtEngine } from './engines/jwt/index.ts';
import { kubernetesEngine } from './engines/kubernetes/index.ts';
import { kvEngine } from './engines/kv/index.ts';
import { pkiEngine } from './engines/pki/index.ts';

/** Every secrets engine and auth method the broker can mount. Add new engines here. */
export const ENGINE_FACTORIES: readonly EngineFactory[] = [kvEngine, approleEngine, certEngine, jwtEngine, kubernetesEngine, databaseEngine, pkiEngine];
