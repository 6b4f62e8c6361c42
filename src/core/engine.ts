/**
 * The engine contract (DESIGN §1, §5). An engine is data: a list of path definitions whose operations
 * take zod-parsed input and return a response. Engines see only this file and lib/.
 */
import type { z } from 'zod';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { Random } from '../lib/random.ts';

export type Operation = 'read' | 'list' | 'update' | 'delete' | 'patch';

export interface MountInfo {
  id: string;
  /** With a trailing slash, e.g. "secret/" or "auth/token/". */
  path: string;
  class: 'secret' | 'auth';
  type: string;
  description: string;
  config: Record<string, unknown>;
  options: Record<string, unknown>;
}

/** Who is calling, as established by the token. The raw token is never part of it. */
export interface Caller {
  accessor: string;
  policies: readonly string[];
  displayName: string;
  /** The login's identity, "<auth mount accessor>:<alias name>" (e.g. a Kubernetes service account); absent for tokens without one. */
  identity?: string;
}

/** Values of the `:name` and `*name` segments of the matched pattern, by name. */
export type Params = Readonly<Record<string, string>>;

export interface EngineRequest<I = unknown, P = Params> {
  operation: Operation;
  /** The request path relative to the mount, without leading or trailing slash. */
  path: string;
  /** The path parameters: parsed by the operation's params schema when it has one (see `withParams`), else as matched. */
  params: P;
  input: I;
  requestId: string;
  remoteAddress: string;
  caller: Caller | null;
  /** The raw client token, present only on paths that declare `needsToken` (auth/token/*-self). */
  clientToken?: string;
  mount: MountInfo;
  /** The TLS client certificate chain (leaf first, DER), when the connection is TLS and the client sent one. */
  peerCertificates?: readonly Buffer[];
  /** Seconds: the client asked for its response to be wrapped (X-Vault-Wrap-TTL); the pipeline does the wrapping. */
  wrapTtl?: number;
}

/**
 * What an auth method's login hands back. The pipeline mints the token from it; auth methods never mint tokens.
 */
export interface LoginResult {
  policies: string[];
  /** The token's display name, e.g. "approle-web" or "kubernetes-team-a-web". */
  displayName: string;
  /**
   * The identity the login proved: the alias name is unique within the mount (a role ID, "namespace/service-account",
   * a certificate name) and its metadata is what templated policies read.
   */
  alias: { name: string; metadata: Record<string, string> };
  /** Seconds; 0 means the broker default. */
  ttl: number;
  /** Seconds; 0 means the broker maximum. */
  maxTtl: number;
  period?: number;
  numUses?: number;
  renewable?: boolean;
  noDefaultPolicy?: boolean;
}

/** What an auth method or token endpoint hands back as `auth` in the envelope. */
export interface AuthResponse {
  clientToken: string;
  accessor: string;
  policies: readonly string[];
  tokenPolicies: readonly string[];
  metadata: Record<string, string>;
  leaseDuration: number;
  renewable: boolean;
  orphan: boolean;
  /** Uses left on the token; 0 (or absent) means unlimited. */
  numUses?: number;
}

export interface EngineResponse {
  /** Wire-ready data (Vault's snake_case field names; user data passes through untouched). Absent: 204. */
  data?: Record<string, unknown>;
  warnings?: string[];
  auth?: AuthResponse;
  /**
   * Send `data` as the whole body (no envelope) with this status, as sys/health does (builtins); or, with `body`,
   * send those bytes with `contentType` instead (PKI's ca/pem, crl, … serve raw PEM or DER, as Vault does).
   */
  raw?: { status: number; body?: string | Buffer; contentType?: string };
  /**
   * Optional: a string that identifies `data` exactly within the mount (equal strings mean equal data), such as a
   * secret's path, version and update time. The audit log then reuses the HMACs it computed for that data.
   */
  dataVersion?: string;
  /** Auth methods: a successful login; the pipeline mints the token and answers with `auth`. */
  login?: LoginResult;
  /**
   * Secrets engines: the response carries a dynamic secret that must be leased. The pipeline registers the lease
   * (and revokes the secret at once through the engine if that fails), then answers with `lease_id`,
   * `lease_duration` and `renewable`.
   */
  lease?: LeaseSpec;
  /**
   * Changes other parties may want to hear of at once (a new KV version): the pipeline publishes them on the
   * event bus after the request succeeds. `path` is relative to the mount (default: the request path).
   */
  events?: { type: string; path?: string; version?: number }[];
  /** sys/events/subscribe: the HTTP layer streams these events to the client (server-sent events) instead of an envelope. */
  stream?: EventStream;
  /** Set by the pipeline once `lease` is registered (and by sys/leases/renew): rendered as the envelope's top-level lease fields. */
  leased?: { id: string; duration: number; renewable: boolean };
  /** Set by the pipeline (or sys/wrapping/rewrap) when the response was wrapped: the envelope then carries only this. */
  wrapInfo?: WrapInfo;
}

/** Vault's wrap_info: the single-use token that unwraps a response. */
export interface WrapInfo {
  token: string;
  accessor: string;
  /** Seconds. */
  ttl: number;
  /** RFC 3339. */
  creationTime: string;
  creationPath: string;
  /** The accessor of the token (or AppRole secret-id) inside, when the wrapped response hands one out. */
  wrappedAccessor?: string;
}

/** An event as subscribers receive it: `path` is the full API path (e.g. "secret/data/app/config"). */
export interface BrokerEvent {
  id: string;
  type: string;
  path: string;
  time: string;
  version?: number;
}

/** A live subscription: `open` starts delivery of the events the caller may see and returns the function that stops it. */
export interface EventStream {
  open(send: (event: BrokerEvent) => void, end: (reason: string) => void): () => void;
}

import type { RotationRegistry, RotationTarget } from './engine-rotation.ts';
export type { RotationContext, RotationRegistry, RotationTarget } from './engine-rotation.ts';

/** What an engine asks the lease manager to track for a dynamic secret (DESIGN §4). */
export interface LeaseSpec {
  /** The engine's secret type: a key of `Engine.secrets`, whose revoke and renew the lease manager calls. */
  type: string;
  /** What revoke and renew need (a username, a serial number). Sealed at rest, never returned to clients. */
  internal: Record<string, unknown>;
  /** Seconds until the lease expires; 0 means the mount's default_lease_ttl (else the broker default). */
  ttl: number;
  /** Seconds from issue after which renewals stop; 0 means the mount's max_lease_ttl (else the broker maximum). */
  maxTtl: number;
  renewable: boolean;
  /** The intent recorded (LeaseIntents.record) before the secret was created: it ends in the transaction that stores the lease. */
  intentId?: string;
}

/**
 * Secrets about to be created on a target, recorded (sealed) before they exist: a broker that dies between creating
 * one and storing its lease leaves an intent without a lease, and a sweep job revokes that secret through the
 * engine's secret type once the intent is older than lease_intent_grace.
 */
export interface LeaseIntents {
  /** Records the intent to create a secret of `type` (a key of `Engine.secrets`); `internal` is what its revoke needs. */
  record(type: string, internal: Record<string, unknown>): Promise<string>;
  /** The secret was never created, or has been undone: forget the intent. */
  forget(id: string): Promise<void>;
}

/** A lease as handed to a secret type's revoke and renew. */
export interface LeaseInfo {
  id: string;
  internal: Readonly<Record<string, unknown>>;
  issuedAt: Date;
  /** For renew: the new expiry. For revoke: the expiry it had. */
  expiresAt: Date;
}

/** How an engine renews and revokes the secrets it leased. Both must be idempotent. */
export interface SecretType {
  /** Extends the secret on its target to `lease.expiresAt` (e.g. ALTER ROLE … VALID UNTIL). Absent: renewal is bookkeeping only. */
  renew?(lease: LeaseInfo): Promise<void>;
  /** Destroys the secret. Must succeed when it is already gone; throws when the target cannot be reached. */
  revoke(lease: LeaseInfo): Promise<void>;
  /**
   * Optional (issue 18): destroys several secrets in as few round trips to their targets as it can (the expiry
   * worker's batches). Resolves with one entry per lease, in order: null when that secret is gone, else the error
   * its own `revoke` would have thrown (that lease alone is retried). Must never report a secret gone that is not.
   */
  revokeMany?(leases: readonly LeaseInfo[]): Promise<readonly (Error | null)[]>;
}

export interface Handler {
  input: z.ZodType;
  /**
   * The path parameters' schema (an object keyed by the pattern's `:name`/`*name` segments). The pipeline parses the
   * matched values with it before the handler runs and answers 400 naming the parameter when they do not fit.
   */
  params?: z.ZodType<Params>;
  handle(req: EngineRequest): Promise<EngineResponse>;
}

/** Declares one operation with its input schema; the handler receives the parsed input. */
export function op<S extends z.ZodType>(
  input: S,
  handle: (req: EngineRequest<z.output<S>>) => Promise<EngineResponse>,
): Handler {
  return { input, handle: (req) => handle(req as EngineRequest<z.output<S>>) };
}

/** Operations with parsed path parameters: `withParams(z.object({ name })).op(input, handler)` types `params`. */
export function withParams<P extends z.ZodType<Params>>(params: P) {
  return {
    op<S extends z.ZodType>(input: S, handle: (req: EngineRequest<z.output<S>, z.output<P>>) => Promise<EngineResponse>): Handler {
      return { input, params, handle: (req) => handle(req as EngineRequest<z.output<S>, z.output<P>>) };
    },
  };
}

export interface PathDef {
  /**
   * Segments: literal, `:name` (one segment) or `*name` (one or more segments: the rest, or up to the literal
   * segments that follow it, as in "mounts/*path/tune").
   */
  pattern: string;
  /**
   * Later patterns of the same engine that also match some of this path's paths, which this one takes (it must come
   * first): "mounts/*path/tune" overrides "mounts/*path". Any other overlap is refused when the engine is built.
   */
  overrides?: readonly string[];
  operations: Partial<Record<Operation, Handler>>;
  /** Callable without a token (login, health, unseal). */
  unauthenticated?: boolean;
  /** Served while sealed (health, seal-status, init, unseal). */
  whileSealed?: boolean;
  /** Hands the raw client token to the handler (lookup-self and friends). */
  needsToken?: boolean;
  /**
   * sys/wrapping/{unwrap,rewrap}: without a `token` in the input, the client token is a response-wrapping token that
   * the handler checks and spends itself (no ACL check); with one, the request authenticates as usual.
   */
  wrappingTokenAuth?: boolean;
  /**
   * The path hands out leased secrets (database creds, PKI issue): a full lease count quota refuses the request
   * before the engine creates anything.
   */
  issuesLeases?: boolean;
  /** Requires the `sudo` capability on top of the operation's own (Vault's root-protected paths). */
  sudo?: boolean;
  /**
   * For writes: whether the target already exists, which decides whether the `create` or the `update`
   * capability is required. Without it every write needs `update`.
   */
  exists?: (req: EngineRequest) => Promise<boolean>;
}

export interface Engine {
  paths: readonly PathDef[];
  /** The secret types this engine leases (see `EngineResponse.lease`), by name. */
  secrets?: Readonly<Record<string, SecretType>>;
  /** The rotation targets this engine offers, by kind (e.g. "static-roles"); see RotationTarget. */
  rotations?: Readonly<Record<string, RotationTarget>>;
  /** Periodic upkeep (PKI: refresh a CRL past its refresh point), run by the scheduler on one replica per slot. */
  maintain?(): Promise<void>;
  /** Releases what the engine holds (target connection pools) when the mount is reloaded, removed or the broker stops. */
  close?(): Promise<void>;
  /** Optional (issue 20): the current version of what `path` (relative to the mount) serves, for acknowledgements; null: not versioned. */
  currentVersion?(path: string): Promise<number | null>;
  /** Optional: a cheap, synchronous reading of what the engine holds, for sys/metrics. */
  metrics?(): EngineMetrics;
}

/** What an engine reports to sys/metrics. Label values must stay bounded (config names), never secrets or paths. */
export interface EngineMetrics {
  pools?: readonly TargetPoolStats[];
}

/** One target connection pool (the database engine's, per connection config). */
export interface TargetPoolStats {
  config: string;
  /** Open connections, idle ones included. */
  total: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
  /** The pool's size limit. */
  max: number;
  /** Issue 20: live users counted against max_credentials (configs with limits), as this replica last saw them. */
  liveUsers?: number;
  /** Issue 20: creations this replica refused over a limit (429). */
  creationsRefused?: number;
  /** A config with limits but no open pool (closed after a config change or never opened): only the limit figures count. */
  noPool?: boolean;
}

/** Encrypted, mount-scoped storage. Every value is sealed by the barrier and bound to (mount, key). */
export interface StorageView {
  get(key: string): Promise<Buffer | null>;
  getMany(keys: readonly string[]): Promise<Map<string, Buffer>>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  /** Immediate children under prefix: "leaf" or "folder/". */
  list(prefix: string): Promise<string[]>;
}

export interface EngineStorage extends StorageView {
  /**
   * Runs fn in one transaction that holds an exclusive lock on lockKey (check-and-set, read-modify-write).
   * Inside fn use only the handle it receives: on PGlite (one connection) a query through the outer storage
   * waits for the open transaction and never returns.
   */
  locked<T>(lockKey: string, fn: (s: StorageView) => Promise<T>): Promise<T>;
}

/**
 * Failed-login lockout, kept in PostgreSQL so that it holds across replicas. Keys are identities within the
 * mount (a role ID, a role name plus subject); they are stored only as HMACs.
 */
export interface LoginLockout {
  /** Throws the generic login failure while the identity is locked. */
  assertNotLocked(identity: string): Promise<void>;
  /** Counts a failure; locks the identity after the threshold. */
  recordFailure(identity: string): Promise<void>;
  /** Clears the failures after a successful login. */
  reset(identity: string): Promise<void>;
}

/** Generates passwords from a named password policy (`sys/policies/password/:name`) or Vault's default policy. */
export interface PasswordGenerator {
  /** Throws a 400 AppError when the named policy does not exist. */
  generate(policyName?: string): Promise<string>;
}

/**
 * The lease lifetimes a mount grants (OpenBao's SystemView): the one answer the lease manager and every engine use,
 * from the mount's tuned default_lease_ttl/max_lease_ttl under the broker's SEALBOX_LEASE_DEFAULT_TTL/MAX_TTL.
 */
export interface MountTtl {
  /** Seconds: the mount's default_lease_ttl, else the broker's; never above maxTtl(). */
  defaultTtl(): number;
  /** Seconds: the mount's max_lease_ttl, else the broker's, and never above the broker's. */
  maxTtl(): number;
  /** A lease's lifetime from what an engine asks (0: the defaults), exactly as the lease manager will set it. */
  resolve(requested: { ttl: number; maxTtl: number }): { ttl: number; maxTtl: number; warnings: string[] };
}

export interface EngineDeps {
  mount: MountInfo;
  /** The mount's lease lifetimes: ask here, never hard-code a default or a maximum. */
  ttl: MountTtl;
  passwords: PasswordGenerator;
  rotations: RotationRegistry;
  /** Where a secret is recorded before it is created on a target (see LeaseIntents). */
  intents: LeaseIntents;
  /** Publishes a change event (e.g. "rotation/finished" for a static-creds path relative to the mount). */
  publish(e: { type: string; path: string; version?: number }): Promise<void>;
  /** The mount's accessor, as listed in sys/mounts and sys/auth (used in templated policies). */
  mountAccessor: string;
  lockout: LoginLockout;
  storage: EngineStorage;
  clock: Clock;
  random: Random;
  log: Logger;
}

export interface EngineFactory {
  type: string;
  class: 'secret' | 'auth';
  /** Validates and normalises mount options (e.g. kv `version`); throws a 400 AppError on bad input. */
  mountOptions?(options: Record<string, unknown>): Record<string, unknown>;
  create(deps: EngineDeps): Engine;
}
