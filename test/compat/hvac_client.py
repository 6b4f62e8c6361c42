"""Drives Debian's python3-hvac (0.11) against a real sealbox broker, over hvac's API for the features sealbox claims.

Run by test/compat/hvac.test.ts under /usr/bin/python3 (not named hvac.py: that would shadow the package). Input from
the environment: VAULT_ADDR, VAULT_TOKEN, DB_URL (a PostgreSQL target), K8S_JWT / K8S_PEM (a service-account JWT and
its public key), JWT / JWT_PEM, SKIP (comma-separated section names not to run). Prints one JSON line per check:
{"section", "name", "ok", "error"}; the test decides what must pass.
"""
import json
import os
import subprocess
import sys
import tempfile
import traceback

import hvac
from hvac import exceptions

ADDR = os.environ["VAULT_ADDR"]
SKIP = {s for s in os.environ.get("SKIP", "").split(",") if s}
client = hvac.Client(url=ADDR, token=os.environ["VAULT_TOKEN"])
checks = []


def check(section):
    def register(fn):
        checks.append((section, fn))
        return fn

    return register


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    raise AssertionError("expected %s" % exc.__name__)


# ---------------------------------------------------------------- sys: health, seal status, mounts, auth, policies
@check("sys")
def health_and_seal_status():
    health = client.sys.read_health_status(method="GET")
    expect(health["initialized"] and not health["sealed"], health)
    status = client.sys.read_seal_status()
    expect(status["sealed"] is False and "+sealbox." in status["version"], status)
    expect(client.sys.is_initialized() and not client.sys.is_sealed(), "initialized, unsealed")


@check("sys")
def secrets_engines():
    # hvac sends null for description, config, options, plugin_name, local, seal_wrap, ...
    client.sys.enable_secrets_engine("kv", path="hv-kv", options={"version": "2"})
    mounts = client.sys.list_mounted_secrets_engines()
    expect("hv-kv/" in mounts and "hv-kv/" in mounts["data"], "top-level copy of the mount table")
    client.sys.tune_mount_configuration("hv-kv", default_lease_ttl="1h", max_lease_ttl="24h")
    tuned = client.sys.read_mount_configuration("hv-kv")
    expect(tuned["data"]["default_lease_ttl"] == 3600, tuned)
    expect(client.sys.retrieve_mount_option("hv-kv", "version") == "2", "mount option")
    client.sys.disable_secrets_engine("hv-kv")
    expect("hv-kv/" not in client.sys.list_mounted_secrets_engines()["data"], "disabled")


@check("sys")
def auth_methods():
    client.sys.enable_auth_method("approle", path="hv-approle")
    methods = client.sys.list_auth_methods()
    expect("hv-approle/" in methods and "hv-approle/" in methods["data"], methods)
    client.sys.tune_auth_method("hv-approle", default_lease_ttl="30m")
    expect(client.sys.read_auth_method_tuning("hv-approle")["data"]["default_lease_ttl"] == 1800, "tuned")
    client.sys.disable_auth_method("hv-approle")


@check("sys")
def policies():
    rules = 'path "secret/data/hvac/*" { capabilities = ["read", "list"] }'
    client.sys.create_or_update_policy("hv-read", rules)
    expect("hv-read" in client.sys.list_policies()["data"]["policies"], "listed")
    policy = client.sys.read_policy("hv-read")
    expect(policy["rules"] == rules and policy["data"]["rules"] == rules, policy)
    expect("hv-read" in client.list_policies(), "legacy list_policies")
    expect(client.get_policy("hv-read") == rules, "legacy get_policy")
    client.sys.delete_policy("hv-read")
    expect("hv-read" not in client.sys.list_policies()["data"]["policies"], "deleted")


# ---------------------------------------------------------------- tokens
@check("tokens")
def token_lifecycle():
    created = client.auth.token.create(policies=["default"], ttl="1h", renewable=True, meta={"app": "hvac"})
    token = created["auth"]["client_token"]
    expect(created["auth"]["renewable"] is True, created)
    looked = client.auth.token.lookup(token)
    expect(looked["data"]["meta"] == {"app": "hvac"}, looked)
    client.auth.token.renew(token, increment="2h")
    by_accessor = client.auth.token.lookup_accessor(created["auth"]["accessor"])
    expect(by_accessor["data"]["accessor"] == created["auth"]["accessor"], by_accessor)
    other = hvac.Client(url=ADDR, token=token)
    expect(other.auth.token.lookup_self()["data"]["policies"] == ["default"], "lookup_self")
    other.auth.token.renew_self()
    expect(other.is_authenticated(), "authenticated")
    other.auth.token.revoke_self()
    expect(not other.is_authenticated(), "revoked")


@check("tokens")
def orphans_and_revocation():
    orphan = client.auth.token.create(policies=["default"], no_parent=True)
    expect(orphan["auth"]["orphan"] is True, orphan)
    # The legacy call posts to auth/token/create-orphan, with null for every argument it was not given.
    legacy = client.create_token(policies=["default"], orphan=True)
    expect(legacy["auth"]["orphan"] is True, legacy)
    child = client.auth.token.create(policies=["default"])
    client.auth.token.revoke_accessor(child["auth"]["accessor"])
    raises(exceptions.VaultError, client.auth.token.lookup, child["auth"]["client_token"])
    client.auth.token.revoke(orphan["auth"]["client_token"])


@check("token-shapes")
def bad_token_lookup_is_403():
    # Vault: logical.ErrorResponse("bad token"), logical.ErrPermissionDenied.
    child = client.auth.token.create(policies=["default"])
    client.auth.token.revoke_accessor(child["auth"]["accessor"])
    raises(exceptions.Forbidden, client.auth.token.lookup, child["auth"]["client_token"])


# ---------------------------------------------------------------- approle
@check("approle")
def approle():
    client.sys.enable_auth_method("approle")
    client.auth.approle.create_or_update_approle("web", token_policies=["default"], token_ttl="1h", secret_id_num_uses=0)
    expect(client.auth.approle.list_roles()["data"]["keys"] == ["web"], "LIST roles")
    role = client.auth.approle.read_role("web")
    expect(role["data"]["token_ttl"] == 3600, role)
    role_id = client.auth.approle.read_role_id("web")["data"]["role_id"]
    # metadata=None and cidr_list=None arrive as nulls.
    secret = client.auth.approle.generate_secret_id("web")["data"]
    accessors = client.auth.approle.list_secret_id_accessors("web")["data"]["keys"]
    expect(secret["secret_id_accessor"] in accessors, "LIST secret-id accessors")
    expect("secret_id_accessor" in client.auth.approle.read_secret_id("web", secret["secret_id"])["data"], "read_secret_id")
    expect(client.auth.approle.read_secret_id_accessor("web", secret["secret_id_accessor"])["data"]["secret_id_accessor"] == secret["secret_id_accessor"], "by accessor")
    login = hvac.Client(url=ADDR)
    login.auth.approle.login(role_id, secret["secret_id"])
    expect(login.is_authenticated(), "approle login")
    second = client.auth.approle.generate_secret_id("web")["data"]
    client.auth.approle.destroy_secret_id_accessor("web", second["secret_id_accessor"])
    client.auth.approle.destroy_secret_id("web", secret["secret_id"])
    client.auth.approle.delete_role("web")


# ---------------------------------------------------------------- kv v2
@check("kv2")
def kv_v2():
    kv = client.secrets.kv.v2
    kv.configure(max_versions=5, cas_required=False, mount_point="secret")
    expect(kv.read_configuration(mount_point="secret")["data"]["max_versions"] == 5, "config")
    kv.create_or_update_secret("hvac/app", secret={"user": "a"})
    kv.create_or_update_secret("hvac/app", secret={"user": "b"}, cas=1)
    kv.patch("hvac/app", secret={"extra": "c"})
    kv.create_or_update_secret("hvac/dir/other", secret={"x": "1"})
    current = kv.read_secret_version("hvac/app")
    expect(current["data"]["data"] == {"user": "b", "extra": "c"} and current["data"]["metadata"]["version"] == 3, current)
    expect(kv.read_secret_version("hvac/app", version=1)["data"]["data"] == {"user": "a"}, "version 1")
    expect(sorted(kv.list_secrets("hvac")["data"]["keys"]) == ["app", "dir/"], "LIST")
    kv.update_metadata("hvac/app", max_versions=4, cas_required=False)
    meta = kv.read_secret_metadata("hvac/app")["data"]
    expect(meta["current_version"] == 3 and meta["max_versions"] == 4, meta)
    kv.delete_latest_version_of_secret("hvac/app")
    raises(exceptions.InvalidPath, kv.read_secret_version, "hvac/app")
    kv.undelete_secret_versions("hvac/app", versions=[3])
    expect(kv.read_secret_version("hvac/app")["data"]["data"]["extra"] == "c", "undeleted")
    kv.delete_secret_versions("hvac/app", versions=[1])
    kv.destroy_secret_versions("hvac/app", versions=[2])
    versions = kv.read_secret_metadata("hvac/app")["data"]["versions"]
    expect(versions["1"]["deletion_time"] != "" and versions["2"]["destroyed"] is True, versions)
    kv.delete_metadata_and_all_versions("hvac/app")
    raises(exceptions.InvalidPath, kv.read_secret_metadata, "hvac/app")


# ---------------------------------------------------------------- database + leases
@check("database")
def database_and_leases():
    db = client.secrets.database
    client.sys.enable_secrets_engine("database")
    db.configure("main", "postgresql-database-plugin", connection_url=os.environ["DB_URL"], allowed_roles=["ro"])
    expect(db.list_connections()["data"]["keys"] == ["main"], "LIST config")
    expect(db.read_connection("main")["data"]["plugin_name"] == "postgresql-database-plugin", "read config")
    db.create_role(
        "ro",
        db_name="main",
        creation_statements=["CREATE ROLE \"{{name}}\" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE app_readers"],
        default_ttl="1h",
        max_ttl="24h",
    )
    expect(db.list_roles()["data"]["keys"] == ["ro"], "LIST roles")
    expect(db.read_role("ro")["data"]["default_ttl"] == 3600, "read role")
    creds = db.generate_credentials("ro")
    lease_id = creds["lease_id"]
    expect(creds["data"]["username"] and lease_id.startswith("database/creds/ro/"), creds)
    expect(lease_id.split("/")[-1] in client.sys.list_leases("database/creds/ro")["data"]["keys"], "LIST leases")
    expect(client.sys.read_lease(lease_id)["data"]["id"] == lease_id, "read lease")
    client.sys.renew_lease(lease_id, increment=600)
    client.sys.revoke_lease(lease_id)
    db.delete_role("ro")
    db.delete_connection("main")


# ---------------------------------------------------------------- pki
def openssl_csr(cn):
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True, capture_output=True)
        out = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + cn], check=True, capture_output=True)
        return out.stdout.decode()


@check("pki")
def pki():
    pki = client.secrets.pki
    client.sys.enable_secrets_engine("pki", config={"max_lease_ttl": "87600h"})
    root = pki.generate_root("internal", "hvac root", extra_params={"ttl": "87600h", "key_type": "ec"})
    expect("BEGIN CERTIFICATE" in root["data"]["certificate"], root)
    pki.create_or_update_role("web", extra_params={"allowed_domains": ["example.com"], "allow_subdomains": True, "max_ttl": "72h", "key_type": "ec"})
    expect(pki.list_roles()["data"]["keys"] == ["web"], "LIST roles")
    expect(pki.read_role("web")["data"]["allow_subdomains"] is True, "read role")
    issued = pki.generate_certificate("web", "a.example.com", extra_params={"ttl": "1h", "private_key_format": "pem", "alt_names": "b.example.com"})
    serial = issued["data"]["serial_number"]
    expect("PRIVATE KEY" in issued["data"]["private_key"], issued)
    signed = pki.sign_certificate("web", openssl_csr("c.example.com"), "c.example.com", extra_params={"ttl": "2h0m0s"})
    expect("BEGIN CERTIFICATE" in signed["data"]["certificate"], signed)
    expect("BEGIN CERTIFICATE" in pki.read_ca_certificate(), "ca")
    expect(serial in pki.list_certificates()["data"]["keys"], "LIST certs")
    expect(pki.read_certificate(serial)["data"]["certificate"] == issued["data"]["certificate"], "read cert")
    revoked = pki.revoke_certificate(serial)
    expect(revoked["data"]["revocation_time"] > 0, revoked)
    expect("BEGIN X509 CRL" in pki.read_crl(), "crl")


# ---------------------------------------------------------------- kubernetes and jwt logins (pem keys)
@check("kubernetes")
def kubernetes_login():
    client.sys.enable_auth_method("kubernetes")
    client.auth.kubernetes.configure("https://kubernetes.default.svc", pem_keys=[os.environ["K8S_PEM"]])
    client.auth.kubernetes.create_role("web", bound_service_account_names=["web"], bound_service_account_namespaces=["apps"], policies=["default"], ttl="1h")
    expect(client.auth.kubernetes.list_roles()["keys"] == ["web"], "LIST roles")
    login = hvac.Client(url=ADDR)
    login.auth.kubernetes.login("web", os.environ["K8S_JWT"])
    expect(login.is_authenticated(), "kubernetes login")


@check("jwt")
def jwt_login():
    client.sys.enable_auth_method("jwt")
    client.auth.jwt.configure(jwt_validation_pubkeys=[os.environ["JWT_PEM"]], bound_issuer="https://issuer.example")
    client.auth.jwt.create_role("ci", role_type="jwt", user_claim="sub", bound_audiences=["vault"], allowed_redirect_uris=None, token_policies=["default"])
    expect("ci" in client.auth.jwt.list_roles()["data"]["keys"], "LIST roles")
    login = hvac.Client(url=ADDR)
    result = login.auth.jwt.jwt_login("ci", os.environ["JWT"])
    expect(result["auth"]["client_token"], result)


# ---------------------------------------------------------------- endpoints other branches add (skipped until merged)
@check("token-accessors")
def token_accessors():
    expect(len(client.auth.token.list_accessors()["data"]["keys"]) > 0, "LIST auth/token/accessors")
    created = client.auth.token.create(policies=["default"], ttl="1h")
    client.auth.token.renew_accessor(created["auth"]["accessor"], increment="2h")


@check("token-roles")
def token_roles():
    client.auth.token.create_or_update_role("ci", allowed_policies=["default"], orphan=True)
    expect(client.auth.token.list_roles()["data"]["keys"] == ["ci"], "LIST roles")
    expect(client.auth.token.read_role("ci")["data"]["orphan"] is True, "read role")
    created = client.auth.token.create(role_name="ci", policies=["default"])
    expect(created["auth"]["orphan"] is True, created)
    client.auth.token.delete_role("ci")


@check("wrapping")
def wrapping():
    wrapped = client.auth.token.create(policies=["default"], wrap_ttl="60s")
    token = wrapped["wrap_info"]["token"]
    unwrapped = client.sys.unwrap(token)
    expect(unwrapped["auth"]["client_token"], unwrapped)


@check("kv1")
def kv_v1():
    client.sys.enable_secrets_engine("kv", path="hv-kv1", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("a/b", {"x": "1"}, mount_point="hv-kv1")
    expect(client.secrets.kv.v1.read_secret("a/b", mount_point="hv-kv1")["data"] == {"x": "1"}, "read")
    expect(client.secrets.kv.v1.list_secrets("a", mount_point="hv-kv1")["data"]["keys"] == ["b"], "LIST")
    client.secrets.kv.v1.delete_secret("a/b", mount_point="hv-kv1")


@check("approle-custom-secret-id")
def approle_custom_secret_id():
    client.auth.approle.create_or_update_approle("custom", token_policies=["default"])
    custom = client.auth.approle.create_custom_secret_id("custom", "custom-secret-id-0001")["data"]
    client.auth.approle.destroy_secret_id_accessor("custom", custom["secret_id_accessor"])


@check("kubernetes-tokenreview")
def kubernetes_token_review():
    client.sys.enable_auth_method("kubernetes", path="k8s-review")
    client.auth.kubernetes.configure("https://127.0.0.1:1", token_reviewer_jwt="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXZpZXdlciJ9.c2ln", kubernetes_ca_cert=None, mount_point="k8s-review")
    expect(client.auth.kubernetes.read_config(mount_point="k8s-review")["kubernetes_host"] == "https://127.0.0.1:1", "config")


def main():
    for section, fn in checks:
        if section in SKIP:
            print(json.dumps({"section": section, "name": fn.__name__, "skipped": True}), flush=True)
            continue
        try:
            fn()
            print(json.dumps({"section": section, "name": fn.__name__, "ok": True}), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the test decides
            detail = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=3))
            print(json.dumps({"section": section, "name": fn.__name__, "ok": False, "error": detail[:4000]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
