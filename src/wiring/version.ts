export const VERSION = '0.1.0';
/**
 * What sys/seal-status and sys/health report (CONTRACT §3): the Vault API version sealbox speaks, with its own after a
 * "+" (semver build metadata), so that tools gating features on Vault's version (Terraform's provider) accept it.
 */
export const REPORTED_VERSION = `1.15.0+sealbox.${VERSION}`;
