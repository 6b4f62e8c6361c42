/**
 * GET sys/events/subscribe[/<type>] — server-sent events for agents. Each event is checked against the subscriber's
 * policies (`read` on the event's path) and the token is re-checked, so a revoked token stops hearing anything.
 * `types` (comma-separated, `*` suffix wildcard) narrows what is delivered; so does `/<type>` in the path, as in Vault.
 */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import type { BrokerEvent, PathDef } from '../engine.ts';
import { op } from '../engine.ts';
import type { EventBus } from '../events.ts';
import type { Authorizer } from '../policy/policy.ts';
import type { TokenEntry, Tokens } from '../tokens/tokens.ts';

const TYPE = /^[A-Za-z0-9*][A-Za-z0-9_./*-]{0,127}$/;
const TOKEN_RECHECK_MS = 15_000;

function typeFilter(raw: string[]): (type: string) => boolean {
  const patterns = raw.map((t) => t.trim()).filter((t) => t !== '');
  for (const p of patterns) if (!TYPE.test(p)) throw badRequest(`types: invalid event type "${p.slice(0, 64)}"`);
  if (patterns.length === 0 || patterns.includes('*')) return () => true;
  return (type) => patterns.some((p) => (p.endsWith('*') ? type.startsWith(p.slice(0, -1)) : type === p));
}

export function sysEventsPaths(deps: { bus: EventBus; tokens: Tokens; authorizer: Authorizer }) {
  const live = new Set<(reason: string) => void>();

  const subscribe = op(z.object({ types: z.string().max(4096).optional(), json: z.unknown().optional() }), async (req) => {
    const token = req.clientToken;
    if (!token) throw badRequest('a token is required');
    const wanted = typeFilter([...(req.input.types?.split(',') ?? []), ...(req.params.type ? [req.params.type] : [])]);
    // Worked out once: each event then finds the token in the cache without hashing it again.
    const key = deps.tokens.hmac(token);
    const keyHex = key.toString('hex');
    const current = (): Promise<TokenEntry | null> => deps.tokens.lookupHmac(key);
    const mayRead = async (entry: TokenEntry, path: string): Promise<boolean> =>
      entry.policies.includes('root') || deps.authorizer.allowed(entry, path, 'read', false);
    /** The decision at once, from the token and policy caches (true, false, or 'end' the stream), or undefined: wait. */
    const decideNow = (path: string): boolean | 'end' | undefined => {
      const entry = deps.tokens.peek(keyHex);
      if (entry === undefined) return undefined;
      if (entry === null) return 'end';
      return entry.policies.includes('root') || deps.authorizer.allowedNow?.(entry, path, 'read', false);
    };

    return {
      stream: {
        open(send: (e: BrokerEvent) => void, end: (reason: string) => void) {
          let closed = false;
          // Checks that must wait run one after another, and an event arrives behind any still waiting, so that
          // events keep their order; with the token and its policies cached (the usual case) nothing waits.
          let chain: Promise<void> = Promise.resolve();
          let waiting = 0;
          const finish = (reason: string) => {
            if (closed) return;
            closed = true;
            stop();
            end(reason);
          };
          const unsubscribe = deps.bus.subscribe((event) => {
            if (!wanted(event.type) || closed) return;
            if (waiting === 0) {
              const now = decideNow(event.path);
              if (now === 'end') return finish('token revoked or expired');
              if (now === true) return send(event);
              if (now === false) return;
            }
            waiting++;
            chain = chain
              .then(async () => {
                if (closed) return;
                const entry = await current();
                if (!entry) return finish('token revoked or expired');
                if (await mayRead(entry, event.path)) send(event);
              })
              .catch(() => finish('internal error'))
              .finally(() => waiting--);
          });
          const recheck = setInterval(() => {
            // Also re-reads the token before its cache entry runs out, so that an event never finds it gone from the
            // cache: 1,000 subscribers would otherwise make 1,000 queries at one event.
            void deps.tokens
              .lookupHmac(key, TOKEN_RECHECK_MS + 5_000)
              .then((e) => {
                if (!e) finish('token revoked or expired');
              })
              // Sealed, or storage down: end the stream (the client reconnects or falls back to polling).
              .catch(() => finish('sealbox is unavailable'));
          }, TOKEN_RECHECK_MS);
          recheck.unref();
          live.add(finish);
          const stop = () => {
            unsubscribe();
            clearInterval(recheck);
            live.delete(finish);
          };
          return () => {
            closed = true;
            stop();
          };
        },
      },
    };
  });

  const paths: PathDef[] = [
    { pattern: 'events/subscribe', needsToken: true, operations: { read: subscribe } },
    { pattern: 'events/subscribe/*type', needsToken: true, operations: { read: subscribe } },
  ];
  return {
    paths,
    /** Ends every open subscription (broker shutdown). */
    closeAll(): void {
      for (const finish of [...live]) finish('broker shutting down');
    },
  };
}
