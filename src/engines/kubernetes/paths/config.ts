/**
 * config: either the service-account signing keys (pem_keys: tokens verified locally), or the Kubernetes API
 * (kubernetes_host, kubernetes_ca_cert, token_reviewer_jwt: tokens checked with TokenReview, as Vault does).
 */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { parsePublicKeyPem, parsePublicKeyPems, pemListField } from '../../../lib/jwt-verify.ts';
import { boolField } from '../../../lib/role-token-fields.ts';
import type { PathDef } from '../../../core/engine.ts';
import { singleRecordPaths } from '../../../core/kit/engine-records.ts';
import { CONFIG_KEY, configWire, type K8sConfig, type K8sDeps } from '../model.ts';

const configInput = z.object({
  kubernetes_host: z.string().max(2048).optional(),
  kubernetes_ca_cert: z.string().max(256 * 1024).optional(),
  pem_keys: pemListField.optional(),
  issuer: z.string().max(2048).optional(),
  disable_iss_validation: boolField.optional(),
  disable_local_ca_jwt: boolField.optional(),
  token_reviewer_jwt: z.string().max(16 * 1024).optional(),
  /** Vault ≥ 1.16 (Terraform always sends it): alias metadata from service-account annotations, which sealbox does not read. */
  use_annotations_as_alias_metadata: boolField.optional(),
});
type ConfigInput = z.output<typeof configInput>;

/** Vault replaces the whole config on every write. Without pem_keys, logins ask kubernetes_host for a TokenReview. */
function buildConfig(input: ConfigInput): K8sConfig {
  if (input.use_annotations_as_alias_metadata === true) throw badRequest('use_annotations_as_alias_metadata: sealbox does not read service-account annotations; only false is supported');
  const pemKeys = (input.pem_keys ?? []).map((p) => p.trim()).filter((p) => p.length > 0);
  parsePublicKeyPems(pemKeys, 'pem_keys');
  const host = (input.kubernetes_host ?? '').trim();
  if (host !== '' && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(host)) throw badRequest('kubernetes_host: must be an http(s) URL such as https://10.0.0.1:443');
  if (host === '' && pemKeys.length === 0) {
    throw badRequest('no host provided: set kubernetes_host (logins are checked with TokenReview), or pem_keys to verify tokens locally');
  }
  const reviewer = (input.token_reviewer_jwt ?? '').trim();
  if (reviewer !== '' && !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(reviewer)) throw badRequest('token_reviewer_jwt: not a JWT');
  const caCert = (input.kubernetes_ca_cert ?? '').trim();
  if (caCert !== '') {
    if (!caCert.includes('-----BEGIN CERTIFICATE-----')) throw badRequest('kubernetes_ca_cert: not a PEM-encoded certificate');
    parsePublicKeyPem(caCert, 'kubernetes_ca_cert');
  }
  return {
    kubernetesHost: host,
    kubernetesCaCert: caCert,
    pemKeys,
    tokenReviewerJwt: reviewer,
    issuer: (input.issuer ?? '').trim(),
    disableIssValidation: input.disable_iss_validation ?? null,
    disableLocalCaJwt: input.disable_local_ca_jwt ?? false,
  };
}

export function createConfigPaths(deps: K8sDeps): PathDef[] {
  return singleRecordPaths({ storage: deps.storage, pattern: CONFIG_KEY, input: configInput, build: buildConfig, wire: configWire });
}
