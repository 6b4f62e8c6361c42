import { z } from 'zod';
import { AppError, permissionDenied } from '../lib/errors.ts';
import type { Barrier } from './barrier.ts';
import type { Caller, EngineResponse, MountInfo, Operation } from './engine.ts';
import type { MountTable, RouteMatch } from './mounts.ts';
import type { PathMatch } from './path-match.ts';
import type { Authorizer } from './policy.ts';
import type { Tokens } from './tokens.ts';

export interface PipelineRequest {
  operation: Operation;
  /** Normalised request path under /v1, without leading or trailing slash. */
  path: string;
  /** Query parameters for read/list/delete, the JSON body for writes. Not yet validated. */
  rawInput: Record<string, unknown>;
  token: string | null;
  requestId: string;
  remoteAddress: string;
}

export interface PipelineResult {
  response: EngineResponse;
  mount: MountInfo;
}

export interface PipelineDeps {
  mounts: MountTable;
  tokens: Tokens;
  authorizer: Authorizer;
  barrier: Barrier;
}

function formatIssues(err: z.ZodError): string[] {
  return err.issues.slice(0, 10).map((i) => {
    const where = i.path.length > 0 ? i.path.join('.') : 'body';
    return `${where}: ${i.message}`;
  });
}

function unknownFields(schema: z.ZodType, raw: Record<string, unknown>): string[] {
  if (!(schema instanceof z.ZodObject)) return [];
  const known = new Set(Object.keys(schema.shape));
  return Object.keys(raw).filter((k) => !known.has(k));
}

/**
 * The one request pipeline (DESIGN §1): route → seal check → authenticate → authorise → validate → engine.
 * Audit recording plugs in around `handle` (audit issue).
 */
export function createPipeline(deps: PipelineDeps) {
  async function dispatch(
    req: PipelineRequest,
    route: RouteMatch,
    match: PathMatch | null,
    caller: Caller | null,
  ): Promise<PipelineResult> {
    const { mounted, rest } = route;
    if (!match) throw new AppError('not_found', `unsupported path "${req.path.slice(0, 200)}"`);
    const handler = match.def.operations[req.operation];
    if (!handler) throw new AppError('unsupported_operation', `unsupported operation "${req.operation}" on "${req.path.slice(0, 200)}"`);

    const parsed = handler.input.safeParse(req.rawInput);
    if (!parsed.success) {
      const [first, ...more] = formatIssues(parsed.error);
      throw new AppError('bad_request', first ?? 'invalid input', more);
    }
    const response = await handler.handle({
      operation: req.operation,
      path: rest,
      params: match.params,
      input: parsed.data,
      requestId: req.requestId,
      remoteAddress: req.remoteAddress,
      caller,
      clientToken: match.def.needsToken && req.token ? req.token : undefined,
      mount: mounted.info,
    });
    const writes = req.operation === 'update' || req.operation === 'patch';
    const ignored = writes ? unknownFields(handler.input, req.rawInput) : [];
    if (ignored.length > 0) {
      const warning = `Endpoint ignored these unrecognized parameters: [${ignored.slice(0, 20).map((k) => k.slice(0, 64)).join(' ')}]`;
      response.warnings = [...(response.warnings ?? []), warning];
    }
    return { response, mount: mounted.info };
}

  return {
    async handle(req: PipelineRequest): Promise<PipelineResult> {
      const route = deps.mounts.route(req.path);
      const sealed = deps.barrier.isSealed();
      if (!route) {
        if (sealed) throw new AppError('sealed', 'sealbox is sealed');
        throw new AppError('not_found', `no handler for route "${req.path.slice(0, 200)}": route entry not found`);
      }
      const { mounted, rest } = route;
      const match = mounted.match(rest);
      if (sealed && !match?.def.whileSealed) throw new AppError('sealed', 'sealbox is sealed');

      let caller = null;
      let lastUse = false;
      if (!match?.def.unauthenticated) {
        const entry = req.token ? await deps.tokens.lookup(req.token) : null;
        if (!entry || !deps.authorizer.allowed(entry.policies, req.path, req.operation)) throw permissionDenied();
        const use = await deps.tokens.spendUse(entry);
        if (use === 'none') throw permissionDenied();
        lastUse = use === 'last';
        caller = { accessor: entry.accessor, policies: entry.policies, displayName: entry.displayName };
      }
      try {
        return await dispatch(req, route, match, caller);
      } finally {
        if (lastUse && caller) await deps.tokens.revoke(caller.accessor);
      }
    },

  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
