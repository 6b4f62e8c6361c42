import { z } from 'zod';
import { AppError } from '../../lib/errors.ts';
import { op, type EngineRequest, type PathDef } from '../engine.ts';
import type { ResponseWrapping } from '../tokens/wrapping.ts';

const tokenInput = z.object({ token: z.string().max(256).optional() });

/** The wrapping token of a request: `token` in the body (a third party) or the client token itself. */
function wrappingTokenOf(req: EngineRequest<{ token?: string }>): string {
  const token = req.input.token !== undefined && req.input.token !== '' ? req.input.token : req.clientToken;
  if (!token) throw new AppError('bad_request', 'missing "token" value in input');
  return token;
}

/** sys/wrapping/{wrap,unwrap,lookup,rewrap}: Vault's response-wrapping endpoints (core/wrapping.ts does the work). */
export function sysWrappingPaths(deps: { wrapping: ResponseWrapping }): PathDef[] {
  const { wrapping } = deps;
  return [
    {
      pattern: 'wrapping/wrap',
      operations: {
        // Any JSON object: it is the data that unwrapping returns.
        update: op(z.record(z.string(), z.unknown()), async (req) => {
          if (!req.wrapTtl) throw new AppError('bad_request', 'endpoint requires response wrapping to be used');
          return { data: req.input };
        }),
      },
    },
    {
      pattern: 'wrapping/unwrap',
      needsToken: true,
      wrappingTokenAuth: true,
      operations: { update: op(tokenInput, async (req) => wrapping.unwrap(wrappingTokenOf(req))) },
    },
    {
      pattern: 'wrapping/rewrap',
      needsToken: true,
      wrappingTokenAuth: true,
      operations: { update: op(tokenInput, async (req) => wrapping.rewrap(wrappingTokenOf(req))) },
    },
    {
      // Unauthenticated in Vault: knowing the token is the capability, and a lookup does not spend it.
      pattern: 'wrapping/lookup',
      unauthenticated: true,
      needsToken: true,
      operations: {
        read: op(tokenInput, async (req) => ({ data: await wrapping.lookup(wrappingTokenOf(req)) })),
        update: op(tokenInput, async (req) => ({ data: await wrapping.lookup(wrappingTokenOf(req)) })),
      },
    },
  ];
}
