// Minimal, `any`-free typings for node-vault 0.12 (CommonJS). This ambient declaration takes precedence over
// the package's own index.d.ts, which is full of `any`. Extend it when a test needs another method.
declare module 'node-vault' {
  namespace NodeVault {
    interface VaultOptions {
      apiVersion?: string;
      endpoint?: string;
      token?: string;
      pathPrefix?: string;
      namespace?: string;
      /** Send `GET ?list=1` instead of the `LIST` verb (Node's HTTP parser rejects `LIST`). */
      noCustomHTTPVerbs?: boolean;
      requestOptions?: Record<string, unknown>;
    }

    /** Per-call options (headers, json body, timeout, TLS ...). */
    interface RequestOptions {
      headers?: Record<string, string>;
      json?: unknown;
      timeout?: number;
      [key: string]: unknown;
    }

    interface RequestSpec extends RequestOptions {
      path: string;
      method: string;
    }

    /** `data` of a response. `data.data`/`data.metadata` are KV v2, `data.keys` is a LIST. */
    interface VaultData {
      data?: Record<string, unknown>;
      metadata?: Record<string, unknown>;
      keys?: string[];
      [key: string]: unknown;
    }

    interface VaultAuth {
      client_token: string;
      accessor?: string;
      policies?: string[];
      token_policies?: string[];
      lease_duration?: number;
      renewable?: boolean;
      [key: string]: unknown;
    }

    /**
     * The decoded JSON body. Note: a 204 response resolves with an empty string, and not every response has
     * `data`; `data` is typed as present for convenience (`(await v.read(p)).data.data`).
     */
    interface VaultResponse {
      request_id?: string;
      lease_id?: string;
      renewable?: boolean;
      lease_duration?: number;
      data: VaultData;
      auth?: VaultAuth | null;
      warnings?: string[] | null;
      wrap_info?: Record<string, unknown> | null;
      errors?: string[];
      [key: string]: unknown;
    }

    /** Rejection value for any status other than 200/204; message is `body.errors[0]` or `Status <code>`. */
    interface ApiResponseError extends Error {
      response: { statusCode: number; body: unknown };
    }

    interface Client {
      apiVersion: string;
      endpoint: string;
      token: string;
      request(spec: RequestSpec): Promise<VaultResponse>;
      read(path: string, opts?: RequestOptions): Promise<VaultResponse>;
      write(path: string, data: unknown, opts?: RequestOptions): Promise<VaultResponse>;
      delete(path: string, opts?: RequestOptions): Promise<VaultResponse>;
      list(path: string, opts?: RequestOptions): Promise<VaultResponse>;
      /** `GET sys/health`: resolves with the body even for 429/472/473/501/503. */
      health: Command;
      // Generated from node-vault's src/commands.js: (args, requestOptions) => body.
      // e.g. mount({ mount_point: 'kv', type: 'kv', options: { version: '2' } }), tokenCreate({ policies: ['p'] }).
      status: Command;
      initialized: Command;
      init: Command;
      unseal: Command;
      seal: Command;
      getTokenRole: Command;
      removeTokenRole: Command;
      approleRoles: Command;
      addKubernetesRole: Command;
      getKubernetesRole: Command;
      deleteKubernetesRole: Command;
      addApproleRole: Command;
      getApproleRole: Command;
      deleteApproleRole: Command;
      getApproleRoleId: Command;
      updateApproleRoleId: Command;
      getApproleRoleSecret: Command;
      generateRootInit: Command;
      generateRootCancel: Command;
      generateRootUpdate: Command;
      mounts: Command;
      mount: Command;
      encryptData: Command;
      decryptData: Command;
      rewrapData: Command;
      transitCreateKey: Command;
      transitReadKey: Command;
      transitListKeys: Command;
      transitDeleteKey: Command;
      generateDatabaseCredentials: Command;
      unmount: Command;
      remount: Command;
      policies: Command;
      addPolicy: Command;
      getPolicy: Command;
      removePolicy: Command;
      auths: Command;
      enableAuth: Command;
      disableAuth: Command;
      audits: Command;
      enableAudit: Command;
      disableAudit: Command;
      renew: Command;
      revoke: Command;
      revokePrefix: Command;
      rotate: Command;
      unwrap: Command;
      gcpLogin: Command;
      githubLogin: Command;
      kubernetesLogin: Command;
      awsIamLogin: Command;
      userpassLogin: Command;
      ldapLogin: Command;
      oktaLogin: Command;
      radiusLogin: Command;
      certLogin: Command;
      jwtLogin: Command;
      tokenAccessors: Command;
      tokenCreate: Command;
      tokenCreateOrphan: Command;
      tokenCreateRole: Command;
      tokenLookup: Command;
      tokenLookupAccessor: Command;
      tokenLookupSelf: Command;
      tokenRenew: Command;
      tokenRenewSelf: Command;
      tokenRevoke: Command;
      tokenRevokeAccessor: Command;
      tokenRevokeOrphan: Command;
      tokenRevokeSelf: Command;
      tokenRoles: Command;
      addTokenRole: Command;
      approleSecretAccessors: Command;
      approleSecretLookup: Command;
      approleSecretDestroy: Command;
      approleSecretAccessorLookup: Command;
      approleSecretAccessorDestroy: Command;
      approleLogin: Command;
      leader: Command;
      stepDown: Command;
      destroySecretVersions: Command;
    }

    /** node-vault's generated API functions: `args` fills the path template, query and JSON body. */
    type Command = (args?: Record<string, unknown>, opts?: RequestOptions) => Promise<VaultResponse>;
  }

  function NodeVault(options?: NodeVault.VaultOptions): NodeVault.Client;
  export = NodeVault;
}
