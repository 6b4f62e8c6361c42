// deploy/ (issue 9): every Kubernetes manifest parses (as Kubernetes reads YAML: 1.1) and keeps the properties the
// issue promises, the Dockerfiles stay multi-stage, non-root, shell-free and health-checked, and each checker is
// shown to fail when a required property is removed, so that the manifests cannot rot silently.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { validateConfig } from '../agent/src/config.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { PROJECT_ROOT } from './helpers/broker.ts';

const DEPLOY = path.join(PROJECT_ROOT, 'deploy');
const BROKER_DIR = path.join(DEPLOY, 'k8s', 'broker');
const APP_DIR = path.join(DEPLOY, 'k8s', 'example-app');
const API_PORT = 8200;
const BROKER_AUDIENCE = 'sealbox';

type Obj = Record<string, unknown>;
type Doc = Obj & { kind: string };

// --- small accessors for untyped YAML ------------------------------------------------------------------------------
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const objs = (v: unknown): Obj[] => arr(v).filter(isObj);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const at = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => obj(o)[k], v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** Parses every document of a manifest file as Kubernetes does (YAML 1.1: `0400` is octal, `yes` is true); throws on any error or warning. */
function loadManifests(file: string): Doc[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'), { version: '1.1', uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(docs)) return [];
  return docs.map((d, i) => {
    const problems = [...d.errors, ...d.warnings];
    if (problems.length > 0) throw new Error(`${file} document ${i + 1}: ${problems.map((p) => p.message).join('; ')}`);
    const v: unknown = d.toJS({ maxAliasCount: 100 });
    if (!isObj(v) || typeof v.kind !== 'string' || typeof v.apiVersion !== 'string') throw new Error(`${file} document ${i + 1}: no apiVersion and kind`);
    if (v.kind !== 'Kustomization' && typeof at(v, 'metadata', 'name') !== 'string') throw new Error(`${file} document ${i + 1}: no metadata.name`);
    return v as Doc;
  });
}

const loadDir = (dir: string): Doc[] => yamlFiles(dir).flatMap(loadManifests);
const ofKind = (docs: Doc[], kind: string): Doc[] => docs.filter((d) => d.kind === kind);
const labelsMatch = (selector: unknown, labels: unknown): boolean => {
  const want = Object.entries(obj(selector));
  return want.length > 0 && want.every(([k, v]) => obj(labels)[k] === v);
};

// --- shared container checks ---------------------------------------------------------------------------------------

/** Hardening every container must have (pod-level runAsNonRoot and seccomp count for the containers). */
function checkHardening(where: string, pod: Obj, c: Obj): string[] {
  const p: string[] = [];
  const sc = obj(c.securityContext);
  const podSc = obj(pod.securityContext);
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) p.push(`${where}: runAsNonRoot is not true`);
  if ((sc.runAsUser ?? podSc.runAsUser) === 0) p.push(`${where}: runs as uid 0`);
  if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: readOnlyRootFilesystem is not true`);
  if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: allowPrivilegeEscalation is not false`);
  if (sc.privileged === true) p.push(`${where}: privileged`);
  if (!arr(at(sc, 'capabilities', 'drop')).includes('ALL')) p.push(`${where}: capabilities do not drop ALL`);
  if (arr(at(sc, 'capabilities', 'add')).length > 0) p.push(`${where}: adds capabilities`);
  if (str(at(sc, 'seccompProfile', 'type') ?? at(podSc, 'seccompProfile', 'type')) !== 'RuntimeDefault') p.push(`${where}: seccompProfile is not RuntimeDefault`);
  const res = obj(c.resources);
  if (at(res, 'requests', 'cpu') === undefined || at(res, 'requests', 'memory') === undefined) p.push(`${where}: no cpu and memory requests`);
  if (at(res, 'limits', 'memory') === undefined) p.push(`${where}: no memory limit`);
  return p;
}

const podSpecOf = (d: Doc): Obj => obj(at(d, 'spec', 'template', 'spec'));
const volumeNamed = (pod: Obj, name: string): Obj | undefined => objs(pod.volumes).find((v) => v.name === name);
/** The volume mounted at the longest mount path that contains `file`, and that mount path. */
function volumeFor(pod: Obj, c: Obj, file: string): { volume: Obj; mountPath: string } | undefined {
  const mounts = objs(c.volumeMounts)
    .filter((m) => {
      const mp = str(m.mountPath) ?? '';
      return file === mp || file.startsWith(`${mp.replace(/\/$/, '')}/`);
    })
    .sort((a, b) => (str(b.mountPath) ?? '').length - (str(a.mountPath) ?? '').length);
  const m = mounts[0];
  const volume = m ? volumeNamed(pod, str(m.name) ?? '') : undefined;
  return m && volume ? { volume, mountPath: str(m.mountPath) ?? '' } : undefined;
}

// --- the broker ----------------------------------------------------------------------------------------------------

function healthQuery(probe: unknown): URLSearchParams | null {
  const p = str(at(probe, 'httpGet', 'path'));
  if (!p?.startsWith('/v1/sys/health')) return null;
  return new URL(p, 'https://x').searchParams;
}

/** Everything the issue asks of the broker's manifests; returns the problems (empty: all good). */
function checkBroker(docs: Doc[]): string[] {
  const p: string[] = [];
  const deploys = ofKind(docs, 'Deployment');
  const d = deploys[0];
  if (deploys.length !== 1 || !d) return ['broker: expected exactly one Deployment'];
  if (at(d, 'spec', 'replicas') !== 3) p.push('Deployment: replicas is not 3');
  const pod = podSpecOf(d);
  const podLabels = at(d, 'spec', 'template', 'metadata', 'labels');
  if (!labelsMatch(at(d, 'spec', 'selector', 'matchLabels'), podLabels)) p.push('Deployment: selector does not match the pod labels');
  const containers = objs(pod.containers);
  const c = containers[0];
  if (containers.length !== 1 || !c) return [...p, 'Deployment: expected one broker container'];
  p.push(...checkHardening('broker container', pod, c));
  if (!objs(c.ports).some((port) => port.containerPort === API_PORT)) p.push(`broker container: does not expose ${API_PORT}`);

  // ServiceAccount: its own, without an API token it does not need.
  const saName = str(pod.serviceAccountName);
  const sa = ofKind(docs, 'ServiceAccount').find((s) => at(s, 'metadata', 'name') === saName);
  if (!saName || !sa) p.push('Deployment: no ServiceAccount of its own');
  if ((pod.automountServiceAccountToken ?? sa?.automountServiceAccountToken) !== false) p.push('broker: the Kubernetes API token is mounted (automountServiceAccountToken is not false)');

  // Probes on sys/health: liveness tolerates sealed and uninitialised, readiness does not (a sealed replica must get no traffic).
  const live = healthQuery(c.livenessProbe);
  const ready = healthQuery(c.readinessProbe);
  if (!live) p.push('broker container: no livenessProbe on /v1/sys/health');
  else if (live.get('sealedcode') !== '200' || live.get('uninitcode') !== '200') p.push('livenessProbe: a sealed or uninitialised broker would be restarted (set sealedcode=200&uninitcode=200)');
  if (!ready) p.push('broker container: no readinessProbe on /v1/sys/health');
  else {
    const sealed = Number(ready.get('sealedcode') ?? 503);
    const uninit = Number(ready.get('uninitcode') ?? 501);
    if (sealed < 400 || uninit < 400) p.push('readinessProbe: a sealed or uninitialised broker would get traffic');
    if (ready.get('standbyok') !== 'true') p.push('readinessProbe: standbyok=true is missing');
  }
  for (const [name, probe] of [['livenessProbe', c.livenessProbe], ['readinessProbe', c.readinessProbe]] as const) {
    const port = at(probe, 'httpGet', 'port');
    if (port !== API_PORT && !objs(c.ports).some((x) => x.name === port && x.containerPort === API_PORT)) p.push(`${name}: not on the API port`);
  }

  // Config: a ConfigMap mounted where --config points; the seal key from a Secret; no secret in the config.
  const args = arr(c.args).map(String);
  const configPath = args[args.indexOf('--config') + 1];
  const configAt = configPath && args.includes('--config') ? volumeFor(pod, c, configPath) : undefined;
  const cmName = str(at(configAt?.volume, 'configMap', 'name'));
  const cm = ofKind(docs, 'ConfigMap').find((m) => at(m, 'metadata', 'name') === cmName);
  const configText = cm && configPath ? str(at(cm, 'data', path.basename(configPath))) : undefined;
  let config: Obj = {};
  if (!configText) p.push('broker: --config does not point into a mounted ConfigMap');
  else {
    try {
      config = obj(JSON.parse(configText));
    } catch {
      p.push('broker ConfigMap: config is not JSON');
    }
  }
  if (at(config, 'seal', 'type') !== 'static') p.push('broker config: seal.type is not "static"');
  if (at(config, 'seal', 'key') !== undefined) p.push('broker config: the seal key is written into the ConfigMap');
  if (config.database_url !== undefined) p.push('broker config: database_url (with its password) is in the ConfigMap');
  const env = objs(c.env);
  const keyFile = str(at(config, 'seal', 'key_file'));
  const keyEnv = env.find((e) => e.name === 'SEALBOX_SEAL_KEY' || e.name === 'SEALBOX_SEAL_KEY_FILE');
  if (keyEnv && at(keyEnv, 'valueFrom', 'secretKeyRef') === undefined && keyEnv.name === 'SEALBOX_SEAL_KEY') p.push('broker: SEALBOX_SEAL_KEY is a plain value');
  const keyVolume = keyFile ? volumeFor(pod, c, keyFile) : undefined;
  const fromSecretEnv = keyEnv?.name === 'SEALBOX_SEAL_KEY' && at(keyEnv, 'valueFrom', 'secretKeyRef') !== undefined;
  if (!fromSecretEnv && at(keyVolume?.volume, 'secret', 'secretName') === undefined) p.push('broker: the seal key file is not mounted from a Secret');
  const dbEnv = env.find((e) => e.name === 'SEALBOX_DATABASE_URL');
  if (!dbEnv || at(dbEnv, 'valueFrom', 'secretKeyRef') === undefined) p.push('broker: SEALBOX_DATABASE_URL does not come from a Secret');

  // Service and PodDisruptionBudget select the broker pods.
  const svc = ofKind(docs, 'Service')[0];
  if (!svc || !labelsMatch(at(svc, 'spec', 'selector'), podLabels)) p.push('Service: missing or does not select the broker pods');
  else if (!objs(at(svc, 'spec', 'ports')).some((x) => x.port === API_PORT)) p.push(`Service: does not serve port ${API_PORT}`);
  const pdb = ofKind(docs, 'PodDisruptionBudget')[0];
  if (!pdb || !labelsMatch(at(pdb, 'spec', 'selector', 'matchLabels'), podLabels)) p.push('PodDisruptionBudget: missing or does not select the broker pods');
  else {
    const maxUnavailable = at(pdb, 'spec', 'maxUnavailable');
    const minAvailable = at(pdb, 'spec', 'minAvailable');
    if (!(maxUnavailable === 1 || (typeof minAvailable === 'number' && minAvailable >= 1 && minAvailable <= 2))) p.push('PodDisruptionBudget: must keep 2 of 3 replicas (maxUnavailable: 1)');
  }

  p.push(...checkNetworkPolicy(ofKind(docs, 'NetworkPolicy'), podLabels));
  return p;
}

const portKey = (port: Obj): string => `${String(port.port)}/${str(port.protocol) ?? 'TCP'}`;

function checkNetworkPolicy(policies: Doc[], podLabels: unknown): string[] {
  const np = policies.find((n) => labelsMatch(at(n, 'spec', 'podSelector', 'matchLabels'), podLabels));
  if (!np) return ['NetworkPolicy: none selects the broker pods'];
  const p: string[] = [];
  const types = arr(at(np, 'spec', 'policyTypes'));
  if (!types.includes('Ingress') || !types.includes('Egress')) p.push('NetworkPolicy: policyTypes must list Ingress and Egress');
  const ingress = objs(at(np, 'spec', 'ingress'));
  if (ingress.length === 0) p.push('NetworkPolicy: no ingress rule for the API port');
  for (const rule of ingress) {
    const ports = objs(rule.ports);
    if (ports.length === 0 || ports.some((x) => portKey(x) !== `${API_PORT}/TCP`)) p.push(`NetworkPolicy: an ingress rule allows more than ${API_PORT}/TCP`);
  }
  const egress = objs(at(np, 'spec', 'egress'));
  const allowed = new Set(['5432/TCP', '53/UDP', '53/TCP']);
  const seen = new Set<string>();
  for (const rule of egress) {
    const ports = objs(rule.ports);
    if (ports.length === 0) p.push('NetworkPolicy: an egress rule allows every port');
    for (const x of ports) {
      if (!allowed.has(portKey(x))) p.push(`NetworkPolicy: egress to ${portKey(x)} is allowed`);
      seen.add(portKey(x));
    }
  }
  for (const need of allowed) if (!seen.has(need)) p.push(`NetworkPolicy: no egress to ${need}`);
  return p;
}

// --- the example application ---------------------------------------------------------------------------------------

function checkExampleApp(docs: Doc[]): string[] {
  const p: string[] = [];
  const d = ofKind(docs, 'Deployment')[0];
  if (!d) return ['example app: no Deployment'];
  const pod = podSpecOf(d);
  const isAgent = (c: Obj) => (str(c.image) ?? '').includes('sealbox-agent');
  const inits = objs(pod.initContainers).filter(isAgent);
  const init = inits.find((c) => arr(c.args).includes('--once'));
  const sidecar = objs(pod.containers).find((c) => isAgent(c) && !arr(c.args).includes('--once'));
  const apps = objs(pod.containers).filter((c) => !isAgent(c));
  if (!init) p.push('example app: no agent init container with --once');
  if (!sidecar) p.push('example app: no agent sidecar');
  if (apps.length === 0) p.push('example app: no application container');
  for (const c of [...objs(pod.initContainers), ...objs(pod.containers)]) p.push(...checkHardening(`container ${str(c.name) ?? '?'}`, pod, c));

  const saName = str(pod.serviceAccountName);
  const sa = ofKind(docs, 'ServiceAccount').find((s) => at(s, 'metadata', 'name') === saName);
  if (!saName || !sa) p.push('example app: no ServiceAccount of its own');
  if ((pod.automountServiceAccountToken ?? sa?.automountServiceAccountToken) !== false) p.push('example app: the default API token is mounted (automountServiceAccountToken is not false)');

  // The agent config from its ConfigMap, checked by the agent's own validator.
  const agents = [init, sidecar].filter((c): c is Obj => c !== undefined);
  for (const agent of agents) {
    const args = arr(agent.args).map(String);
    const cfgPath = args[args.indexOf('--config') + 1];
    const at_ = cfgPath && args.includes('--config') ? volumeFor(pod, agent, cfgPath) : undefined;
    const cm = ofKind(docs, 'ConfigMap').find((m) => at(m, 'metadata', 'name') === at(at_?.volume, 'configMap', 'name'));
    const text = cm && cfgPath ? str(at(cm, 'data', path.basename(cfgPath))) : undefined;
    if (!text) {
      p.push(`agent ${str(agent.name) ?? '?'}: --config does not point into a mounted ConfigMap`);
      continue;
    }
    const docsIn = parseAllDocuments(text, { version: '1.1' });
    const first = Array.isArray(docsIn) ? docsIn[0] : undefined;
    let cfg: ReturnType<typeof validateConfig> | undefined;
    try {
      cfg = validateConfig(first?.toJS(), path.dirname(cfgPath ?? '/'));
    } catch (err) {
      p.push(`agent config: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    if (!/^https:\/\/sealbox\.sealbox\.svc(\.cluster\.local)?:8200$/.test(cfg.broker.address)) p.push(`agent config: broker address ${cfg.broker.address} is not the broker Service over HTTPS`);
    if (cfg.auth.method !== 'kubernetes') p.push('agent config: auth.method is not kubernetes');
    else {
      const token = volumeFor(pod, agent, cfg.auth.tokenFile);
      const source = objs(at(token?.volume, 'projected', 'sources')).map((s) => obj(s.serviceAccountToken)).find((s) => s.path !== undefined);
      if (!token || !source) p.push(`agent ${str(agent.name) ?? '?'}: token_file is not on a projected service-account token volume`);
      else {
        if (source.audience !== BROKER_AUDIENCE) p.push(`projected token: audience is not "${BROKER_AUDIENCE}"`);
        if (path.join(token.mountPath, str(source.path) ?? '') !== cfg.auth.tokenFile) p.push('projected token: its path is not the agent token_file');
      }
    }
    // Every destination on the in-memory emptyDir, which the application container mounts too.
    for (const s of cfg.secrets) {
      const v = volumeFor(pod, agent, s.destination);
      if (!v || at(v.volume, 'emptyDir', 'medium') !== 'Memory') p.push(`agent ${str(agent.name) ?? '?'}: ${s.destination} is not on an emptyDir with medium Memory`);
      else if (!apps.some((a) => volumeFor(pod, a, s.destination)?.volume === v.volume)) p.push(`example app: the application does not mount the volume with ${s.destination}`);
    }
  }
  return p;
}

// --- Dockerfiles ---------------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (buf === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (buf !== '' && line.trimStart().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (buf + line).trim();
    buf = '';
    const m = /^(\S+)\s*(.*)$/s.exec(full);
    if (m) out.push({ op: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() });
  }
  if (buf !== '') throw new Error('a line continuation runs off the end of the file');
  return out;
}

/** Exec form: a JSON array of strings (Docker falls back to a shell for anything else). */
function execForm(args: string): string[] | null {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

const SHELLS = /(^|\/)(sh|bash|ash|dash|zsh)$/;

function checkDockerfile(name: string, ins: Instruction[]): string[] {
  const p: string[] = [];
  const froms = ins.map((x, i) => ({ ...x, i })).filter((x) => x.op === 'FROM');
  if (froms.length < 2) p.push(`${name}: not multi-stage (fewer than 2 FROM)`);
  const stages = new Set(froms.map((f) => /\bAS\s+(\S+)/i.exec(f.args)?.[1]?.toLowerCase()).filter((s): s is string => s !== undefined));
  for (const c of ins.filter((x) => x.op === 'COPY')) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    if (from && !stages.has(from.toLowerCase())) p.push(`${name}: COPY --from=${from} names no stage`);
  }
  const last = froms.at(-1);
  const final = last ? ins.slice(last.i + 1) : [];
  const users = final.filter((x) => x.op === 'USER');
  const user = users.at(-1)?.args;
  if (!user) p.push(`${name}: the final stage sets no USER`);
  else {
    const uid = user.split(':')[0] ?? '';
    if (!/^\d+$/.test(uid)) p.push(`${name}: USER ${user} is not numeric (Kubernetes runAsNonRoot cannot verify a name)`);
    else if (Number(uid) === 0) p.push(`${name}: USER is root`);
  }
  if (final.some((x) => x.op === 'RUN')) p.push(`${name}: the final stage runs commands (it must need no shell)`);
  const hc = final.filter((x) => x.op === 'HEALTHCHECK').at(-1);
  if (!hc) p.push(`${name}: no HEALTHCHECK`);
  else {
    const m = /^(?:--\S+\s+)*CMD\s+(.*)$/s.exec(hc.args);
    const cmd = m ? execForm(m[1] ?? '') : null;
    if (!cmd) p.push(`${name}: HEALTHCHECK is not an exec-form CMD (a shell form needs /bin/sh)`);
    else if (SHELLS.test(cmd[0] ?? '') || cmd[0] === 'CMD-SHELL') p.push(`${name}: HEALTHCHECK runs a shell`);
  }
  const entry = final.filter((x) => x.op === 'ENTRYPOINT').at(-1);
  const entryCmd = entry ? execForm(entry.args) : null;
  if (!entryCmd) p.push(`${name}: ENTRYPOINT is missing or not exec form`);
  else if (SHELLS.test(entryCmd[0] ?? '')) p.push(`${name}: ENTRYPOINT runs a shell`);
  const base = last?.args.replace(/--\S+\s+/g, '').split(/\s+/)[0] ?? '';
  const args = new Map(ins.filter((x) => x.op === 'ARG').map((x) => x.args.split('=') as [string, string]));
  const resolved = base.replace(/^\$\{?(\w+)\}?$/, (_, n: string) => args.get(n) ?? n);
  if (!/distroless|node:20[\w.-]*-slim/.test(resolved)) p.push(`${name}: the runtime image ${resolved} is neither distroless nor node:20-slim`);
  return p;
}

const dockerfile = (name: string) => parseDockerfile(fs.readFileSync(path.join(DEPLOY, 'docker', name), 'utf8'));

// --- tests ---------------------------------------------------------------------------------------------------------

test('every manifest parses, and each kustomization lists exactly the files beside it', (t) => {
  const files = yamlFiles(path.join(DEPLOY, 'k8s'));
  t.true(files.length >= 10, files.join(', '));
  for (const f of files) t.notThrows(() => loadManifests(f), f);
  for (const dir of [BROKER_DIR, APP_DIR]) {
    const k = loadManifests(path.join(dir, 'kustomization.yaml'))[0];
    const listed = arr(k?.resources).map(String).sort();
    const present = yamlFiles(dir).map((f) => path.relative(dir, f)).filter((f) => f !== 'kustomization.yaml').sort();
    t.deepEqual(listed, present, dir);
  }
  // The loader is strict: a duplicate key or a tab indentation error is a failure, not a silent last-one-wins.
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-')), 'bad.yaml');
  fs.writeFileSync(tmp, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n');
  t.throws(() => loadManifests(tmp));
});

test('broker manifests: 3 replicas, Service, PDB, NetworkPolicy, ServiceAccount, config, seal key from a Secret, probes, hardening', (t) => {
  const docs = loadDir(BROKER_DIR);
  t.deepEqual(checkBroker(docs), []);
  // The ServiceAccount documents when system:auth-delegator would be needed, and no RBAC grants the broker anything.
  const sa = fs.readFileSync(path.join(BROKER_DIR, 'serviceaccount.yaml'), 'utf8');
  t.regex(sa, /system:auth-delegator/);
  t.regex(sa, /TokenReview/);
  t.deepEqual(docs.filter((d) => /Role|RoleBinding/.test(d.kind)), []);
  // The image's USER is the uid the pod runs as.
  const user = dockerfile('broker.Dockerfile').filter((x) => x.op === 'USER').at(-1)?.args.split(':')[0];
  t.is(Number(user), Number(at(podSpecOf(ofKind(docs, 'Deployment')[0] ?? { kind: '' }), 'securityContext', 'runAsUser')));
});

test('broker config in the ConfigMap is accepted by the broker config loader', (t) => {
  const cm = ofKind(loadDir(BROKER_DIR), 'ConfigMap')[0];
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-')), 'config.json');
  fs.writeFileSync(file, str(at(cm, 'data', 'config.json')) ?? '');
  try {
    const c = loadConfig(['--config', file], { SEALBOX_DATABASE_URL: 'postgres://sealbox@db:5432/sealbox' });
    t.is(c.seal.type, 'static');
  } catch (err) {
    // The TLS files live in the pod only; every other setting must check out.
    t.true(err instanceof ConfigError);
    const lines = String((err as Error).message).split('\n').slice(1);
    t.deepEqual(lines.filter((l) => !/^\s+tls_(cert|key)_file: file is not readable$/.test(l)), []);
    t.true(lines.length > 0);
  }
});

test('example app: agent init container (--once) and sidecar on a Memory emptyDir, projected token for the broker audience, no API token', (t) => {
  t.deepEqual(checkExampleApp(loadDir(APP_DIR)), []);
});

test('Dockerfiles: multi-stage, numeric non-root USER, exec-form HEALTHCHECK and ENTRYPOINT, no shell in the runtime stage', (t) => {
  for (const name of ['broker.Dockerfile', 'agent.Dockerfile']) t.deepEqual(checkDockerfile(name, dockerfile(name)), [], name);
  const broker = dockerfile('broker.Dockerfile');
  t.true(broker.some((x) => x.op === 'EXPOSE' && x.args.split(/\s+/).includes(String(API_PORT))));
});

/** Runs a Dockerfile's exec-form HEALTHCHECK with this machine's node; resolves with its exit code. */
function runHealthcheck(name: string, env: Record<string, string>): Promise<number | null> {
  const hc = dockerfile(name).filter((x) => x.op === 'HEALTHCHECK').at(-1);
  const cmd = execForm(/CMD\s+(.*)$/s.exec(hc?.args ?? '')?.[1] ?? '') ?? [];
  if (cmd[0] !== '/nodejs/bin/node') throw new Error(`${name}: the health check does not run the image's node`);
  return new Promise((resolve) => {
    execFile(process.execPath, cmd.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 }, (err) => resolve(err ? (typeof err.code === 'number' ? err.code : -1) : 0));
  });
}

test('the Dockerfiles\' health checks work: 0 on a 200, non-zero on an error status or nothing listening', async (t) => {
  const seen: string[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const broker = { SEALBOX_HEALTHCHECK_URL: `http://127.0.0.1:${port}/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200` };
  const agent = { SEALBOX_AGENT_HEALTHCHECK_URL: `http://127.0.0.1:${port}/health` };
  t.is(await runHealthcheck('broker.Dockerfile', broker), 0);
  t.is(await runHealthcheck('agent.Dockerfile', agent), 0);
  t.deepEqual(seen, ['/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200', '/health']);
  status = 500;
  t.is(await runHealthcheck('broker.Dockerfile', broker), 1);
  t.is(await runHealthcheck('agent.Dockerfile', agent), 1);
  server.close();
  t.is(await runHealthcheck('broker.Dockerfile', broker), 1);
  // The default URL (no override) asks a sealed or uninitialised broker for 200: the container is alive.
  const hc = dockerfile('broker.Dockerfile').find((x) => x.op === 'HEALTHCHECK')?.args ?? '';
  t.regex(hc, /127\.0\.0\.1:8200\/v1\/sys\/health\?standbyok=true&sealedcode=200&uninitcode=200/);
});

// --- the checks fail when a required property goes ------------------------------------------------------------------

const brokerMutations: [string, (docs: Doc[]) => void, RegExp][] = [
  ['replicas 1', (d) => Object.assign(obj(at(ofKind(d, 'Deployment')[0], 'spec')), { replicas: 1 }), /replicas is not 3/],
  ['no readOnlyRootFilesystem', (d) => delete obj(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]?.securityContext).readOnlyRootFilesystem, /readOnlyRootFilesystem/],
  ['privilege escalation', (d) => (obj(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]?.securityContext).allowPrivilegeEscalation = true), /allowPrivilegeEscalation/],
  ['capabilities kept', (d) => delete obj(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]).securityContext, /capabilities do not drop ALL/],
  [
    'no seccomp',
    (d) => {
      const pod = podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' });
      delete obj(pod.securityContext).seccompProfile;
      delete obj(objs(pod.containers)[0]?.securityContext).seccompProfile;
    },
    /seccompProfile/,
  ],
  [
    'runAsNonRoot off',
    (d) => {
      const pod = podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' });
      delete obj(pod.securityContext).runAsNonRoot;
      delete obj(objs(pod.containers)[0]?.securityContext).runAsNonRoot;
    },
    /runAsNonRoot/,
  ],
  ['no resources', (d) => delete obj(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]).resources, /requests/],
  ['no readiness probe', (d) => delete obj(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]).readinessProbe, /no readinessProbe/],
  [
    'liveness restarts sealed brokers',
    (d) => Object.assign(obj(at(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0], 'livenessProbe', 'httpGet')), { path: '/v1/sys/health' }),
    /sealed or uninitialised broker would be restarted/,
  ],
  [
    'readiness sends traffic to sealed brokers',
    (d) => Object.assign(obj(at(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0], 'readinessProbe', 'httpGet')), { path: '/v1/sys/health?standbyok=true&sealedcode=200' }),
    /would get traffic/,
  ],
  [
    'seal key from the ConfigMap volume',
    (d) => {
      const pod = podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' });
      const v = objs(pod.volumes).find((x) => x.name === 'seal-key');
      if (v) {
        delete v.secret;
        v.configMap = { name: 'sealbox-config' };
      }
    },
    /seal key file is not mounted from a Secret/,
  ],
  ['database URL in plain env', (d) => Object.assign(objs(objs(podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' }).containers)[0]?.env)[0] ?? {}, { valueFrom: undefined, value: 'postgres://u:p@db/x' }), /SEALBOX_DATABASE_URL/],
  ['no PDB', (d) => d.splice(d.findIndex((x) => x.kind === 'PodDisruptionBudget'), 1), /PodDisruptionBudget/],
  ['no Service', (d) => d.splice(d.findIndex((x) => x.kind === 'Service'), 1), /Service: missing/],
  ['no NetworkPolicy', (d) => d.splice(d.findIndex((x) => x.kind === 'NetworkPolicy'), 1), /NetworkPolicy: none/],
  ['ingress on every port', (d) => delete obj(objs(at(ofKind(d, 'NetworkPolicy')[0], 'spec', 'ingress'))[0]).ports, /ingress rule allows more/],
  ['egress to 443', (d) => arr(at(ofKind(d, 'NetworkPolicy')[0], 'spec', 'egress')).push({ ports: [{ port: 443, protocol: 'TCP' }] }), /egress to 443\/TCP/],
  [
    'no DNS over TCP',
    (d) => {
      const rules = objs(at(ofKind(d, 'NetworkPolicy')[0], 'spec', 'egress'));
      for (const r of rules) r.ports = objs(r.ports).filter((x) => x.protocol !== 'TCP' || x.port !== 53);
    },
    /no egress to 53\/TCP/,
  ],
  ['Egress not enforced', (d) => Object.assign(obj(at(ofKind(d, 'NetworkPolicy')[0], 'spec')), { policyTypes: ['Ingress'] }), /policyTypes/],
  ['no ServiceAccount', (d) => d.splice(d.findIndex((x) => x.kind === 'ServiceAccount'), 1), /ServiceAccount/],
];

test('broker checks fail when a required property is removed', (t) => {
  const docs = loadDir(BROKER_DIR);
  for (const [name, mutate, expected] of brokerMutations) {
    const copy = clone(docs);
    mutate(copy);
    const problems = checkBroker(copy);
    t.true(
      problems.some((p) => expected.test(p)),
      `${name}: ${JSON.stringify(problems)}`,
    );
  }
  t.deepEqual(checkBroker(docs), [], 'the mutations worked on copies');
});

const appPod = (d: Doc[]): Obj => podSpecOf(ofKind(d, 'Deployment')[0] ?? { kind: '' });
const appMutations: [string, (docs: Doc[]) => void, RegExp][] = [
  ['init container without --once', (d) => (objs(appPod(d).initContainers)[0] ?? {}).args = ['--config', '/etc/sealbox-agent/agent.yaml'], /--once/],
  ['no sidecar', (d) => (appPod(d).containers = objs(appPod(d).containers).filter((c) => c.name !== 'sealbox-agent')), /no agent sidecar/],
  ['emptyDir on disk', (d) => delete obj(objs(appPod(d).volumes).find((v) => v.name === 'secrets')?.emptyDir).medium, /medium Memory/],
  ['token for the API server', (d) => delete obj(objs(at(objs(appPod(d).volumes).find((v) => v.name === 'sealbox-token'), 'projected', 'sources'))[0]?.serviceAccountToken).audience, /audience/],
  ['API token mounted', (d) => (appPod(d).automountServiceAccountToken = true), /automountServiceAccountToken/],
  ['app cannot read the secrets', (d) => (obj(objs(appPod(d).containers)[0]).volumeMounts = []), /application does not mount/],
  ['writable root in the sidecar', (d) => Object.assign(obj(objs(appPod(d).containers).find((c) => c.name === 'sealbox-agent')?.securityContext), { readOnlyRootFilesystem: false }), /sealbox-agent: readOnlyRootFilesystem/],
  [
    'broken agent config',
    (d) => {
      const cm = ofKind(d, 'ConfigMap')[0];
      obj(cm?.data)['agent.yaml'] = 'broker: {address: "https://sealbox.sealbox.svc:8200"}\nauth: {method: kubernetes, role: web}\nsecrets: []\n';
    },
    /agent config: secrets/,
  ],
];

test('example app checks fail when a required property is removed', (t) => {
  const docs = loadDir(APP_DIR);
  for (const [name, mutate, expected] of appMutations) {
    const copy = clone(docs);
    mutate(copy);
    const problems = checkExampleApp(copy);
    t.true(
      problems.some((p) => expected.test(p)),
      `${name}: ${JSON.stringify(problems)}`,
    );
  }
});

test('Dockerfile checks fail when a required property is removed', (t) => {
  const base = dockerfile('broker.Dockerfile');
  const without = (op: string) => base.filter((x) => x.op !== op);
  const replace = (op: string, args: string) => base.map((x) => (x.op === op ? { op, args } : x));
  const cases: [string, Instruction[], RegExp][] = [
    ['single stage', base.slice(base.findLastIndex((x) => x.op === 'FROM')), /multi-stage/],
    ['no USER', without('USER'), /sets no USER/],
    ['USER root', replace('USER', 'root'), /not numeric/],
    ['USER 0', replace('USER', '0:0'), /USER is root/],
    ['no HEALTHCHECK', without('HEALTHCHECK'), /no HEALTHCHECK/],
    ['shell HEALTHCHECK', replace('HEALTHCHECK', 'CMD curl -f http://127.0.0.1:8200/v1/sys/health || exit 1'), /exec-form/],
    ['shell ENTRYPOINT', replace('ENTRYPOINT', '["/bin/sh", "-c", "node dist/cli/main.js"]'), /ENTRYPOINT runs a shell/],
    ['RUN in the runtime stage', [...base, { op: 'RUN', args: 'chmod -R 777 /app' }], /runs commands/],
    ['unknown stage', replace('COPY', '--from=nope /x /y'), /names no stage/],
  ];
  for (const [name, ins, expected] of cases) {
    const problems = checkDockerfile('broker.Dockerfile', ins);
    t.true(
      problems.some((p) => expected.test(p)),
      `${name}: ${JSON.stringify(problems)}`,
    );
  }
  t.throws(() => parseDockerfile('FROM a AS b\nRUN x \\'));
});
