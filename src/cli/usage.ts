/** Text shared by the usage messages of client commands (issue 9 conventions). */
export const ENV_HELP = `Environment: SEALBOX_ADDR (or VAULT_ADDR; default http://127.0.0.1:8200), SEALBOX_TOKEN (or VAULT_TOKEN),
SEALBOX_CACERT (or VAULT_CACERT): a PEM file of CA certificates to trust for an https address.
Flags may be written -flag value, -flag=value, --flag value or --flag=value.
Exit codes: 0 ok, 1 usage error, 2 API or file error (with the server's message).`;
