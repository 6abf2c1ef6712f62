#!/usr/bin/env node
// The checks of deploy/check.sh that need a program: what a schema cannot see.
//
//   node deploy/lint-manifests.js k8s RENDERED.yaml SOURCE_DIR VERSION [SERVE_HELP]
//     RENDERED.yaml: `kubectl kustomize SOURCE_DIR`'s output. Every object is validated against
//     its Kubernetes schema (npm kubernetes-models), and then against what the schema accepts but
//     the cluster would get wrong: keys the schema does not know (the models' validators let
//     them through; only the API server would say, at apply time), Service and policy selectors that
//     select no pod, references to ConfigMaps, Secrets, keys, volumes, ports and $(VARS) that do
//     not exist, probes, resources, the restricted security context, the NetworkPolicies'
//     connections against the system's own (CONNECTIONS below), and the roles' session flags.
//   node deploy/lint-manifests.js compose CONFIG.yaml COMPOSE.yaml ENV_EXAMPLE VERSION [SERVE_HELP]
//     CONFIG.yaml: `docker-compose config`'s output for COMPOSE.yaml. Every service's ulimits,
//     health check, hardening, image tag, dependencies and session flags; no password written
//     into COMPOSE.yaml or ENV_EXAMPLE.
//   SERVE_HELP (both): the output of `aits serve --help` of a build; every flag the roles are
//     given must be one of its flags.
//   node deploy/lint-manifests.js containerfile Containerfile
//     The targets deploy/build-image.sh builds exist, each with the user, a HEALTHCHECK and an
//     exec-form ENTRYPOINT; aits is the last (the default target).
//
// Each problem is printed as "FILE:LINE: OBJECT: FIELD: what is wrong" (the source file under
// SOURCE_DIR where the object comes from, else the rendered file), each passed check as "ok:";
// the exit status is 1 when anything was wrong.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

// ---------------------------------------------------------------------------------------------
// Reporting, with the line of the field in the file it comes from.

let problems = 0;
let problemsBefore = 0;
function problem(where, message) {
  problems += 1;
  console.log(`${where}: ${message}`);
}
// "ok: MESSAGE" when no problem was found since the last call; a section ends with one.
function ok(message) {
  if (problems === problemsBefore) console.log(`ok: ${message}`);
  problemsBefore = problems;
}

// A file's YAML documents, kept with their syntax nodes so that a field's line can be told.
class YamlFile {
  constructor(file, displayName) {
    this.file = file;
    this.name = displayName || file;
    this.lineCounter = new YAML.LineCounter();
    const text = fs.readFileSync(file, 'utf8');
    this.docs = YAML.parseAllDocuments(text, { lineCounter: this.lineCounter, merge: true });
    for (const doc of this.docs) {
      if (doc.errors.length > 0) {
        throw new Error(`${this.name}: ${doc.errors[0].message}`);
      }
    }
  }

  values() {
    return this.docs.map((doc) => doc.toJS({ maxAliasCount: 100 }));
  }

  // The line of `fieldPath` (keys and indices) in document `index`: the deepest part of the path
  // that exists (a missing field is reported at its parent).
  line(index, fieldPath) {
    let node = this.docs[index].contents;
    let range = node && node.range;
    for (const segment of fieldPath) {
      if (YAML.isMap(node)) {
        const pair = node.items.find((item) => item.key && item.key.value === segment);
        if (!pair) break;
        range = pair.key.range;
        node = pair.value;
      } else if (YAML.isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        node = node.items[segment];
        range = node.range;
      } else {
        break;
      }
    }
    return range ? this.lineCounter.linePos(range[0]).line : 1;
  }
}

function formatPath(fieldPath) {
  let text = '';
  for (const segment of fieldPath) {
    text += typeof segment === 'number' ? `[${segment}]` : (text ? '.' : '') + segment;
  }
  return text || '(object)';
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const entries = (value) => (isObject(value) ? Object.entries(value) : []);
const list = (value) => (Array.isArray(value) ? value : []);

// matchLabels (and matchExpressions) against a set of labels; an empty selector matches all.
function selects(selector, labels) {
  if (!isObject(selector)) return false;
  for (const [key, value] of entries(selector.matchLabels)) {
    if (labels[key] !== value) return false;
  }
  for (const expression of list(selector.matchExpressions)) {
    const has = Object.prototype.hasOwnProperty.call(labels, expression.key);
    const values = list(expression.values);
    switch (expression.operator) {
      case 'In': if (!has || !values.includes(labels[expression.key])) return false; break;
      case 'NotIn': if (has && values.includes(labels[expression.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

// Kubernetes quantities ("250m", "2", "512Mi", "1G") as numbers, for requests <= limits.
function quantity(text) {
  const match = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(String(text));
  if (!match) return NaN;
  const scale = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(match[1]) * (match[2] ? scale[match[2]] : 1);
}

// The flags of an argument list as [flag, value] pairs (a flag followed by another flag, or by
// nothing, has no value).
function flagPairs(args) {
  const pairs = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = String(args[i]);
    if (!arg.startsWith('--')) continue;
    const next = args[i + 1];
    if (next !== undefined && !String(next).startsWith('--')) {
      pairs.push([arg, String(next)]);
      i += 1;
    } else {
      pairs.push([arg, null]);
    }
  }
  return pairs;
}

// Flags that differ between roles by design (--redis: only features and prediction write to
// Redis, `aits serve` refuses it to the others); every other flag is the session's and must be the
// same for every role (docs/services.md: "Give every role the same session flags").
const ROLE_FLAGS = new Set(['--role', '--events', '--state', '--standby', '--redis']);
function sessionFlags(args) {
  return flagPairs(args).filter(([flag]) => !ROLE_FLAGS.has(flag));
}
function describeFlags(pairs) {
  return pairs.map(([flag, value]) => (value === null ? flag : `${flag} ${value}`)).join(' ');
}

// Checks that every role ({name, args, where}) names a --role and runs the same session flags;
// the flags most of them run are the session, each role that differs is a problem. Returns the
// session's flags as text.
function oneSession(roles, serveFlags) {
  const counts = new Map();
  for (const role of roles) {
    role.session = describeFlags(sessionFlags(role.args));
    counts.set(role.session, (counts.get(role.session) || 0) + 1);
    if (!flagPairs(role.args).some(([flag]) => flag === '--role')) problem(role.where, 'no --role');
    if (serveFlags) {
      if (role.args[0] !== 'serve') problem(role.where, `runs "aits ${role.args[0]}", not "aits serve"`);
      for (const [flag] of flagPairs(role.args)) {
        if (!serveFlags.has(flag)) problem(role.where, `${flag} is no flag of this build's aits serve`);
      }
    }
  }
  const session = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([text]) => text)[0];
  for (const role of roles) {
    if (role.session !== session) {
      problem(role.where, `the session flags differ from the other roles':\n  ${role.name}: ` +
              `${role.session}\n  others: ${session}`);
    }
  }
  return session === undefined ? '(no role)' : session;
}

// The user every image runs as (deploy/Containerfile), which the manifests' runAsUser, runAsGroup
// and fsGroup and the compose file's user must name: a fixed number, so that Kubernetes can
// verify runAsNonRoot and the volumes are given to it.
const IMAGE_UID = 10001;

// The flags `aits serve --help` lists (its option lines: "  -h,--help ...", "  --role TEXT ..."),
// or null without a help file.
function readServeFlags(helpFile) {
  if (!helpFile) return null;
  const flags = new Set();
  for (const line of fs.readFileSync(helpFile, 'utf8').split('\n')) {
    const match = /^\s+(?:-[A-Za-z],)?(--[a-z][a-z0-9-]*)/.exec(line);
    if (match) flags.add(match[1]);
  }
  if (!flags.has('--role')) throw new Error(`${helpFile}: no --role among its flags: not aits serve --help`);
  return flags;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes.

// The connections the system makes (docs/services.md; docs/deployment.md, "Network policies"),
// between pods named by "app.kubernetes.io/name/app.kubernetes.io/component": exactly these
// must be allowed by the NetworkPolicies, on these ports, and no other between the pods.
// The decision role keeps nothing: the bus only.
const ROLES = ['aits/ingestion', 'aits/features', 'aits/prediction', 'aits/decision', 'aits/owner'];
const CACHE_ROLES = ROLES.filter((role) => role !== 'aits/decision');
const CONNECTIONS = [
  ...ROLES.map((role) => [role, 'nats/bus', 4222]),
  ...CACHE_ROLES.map((role) => [role, 'redis/cache', 6379]),
  ['aits/owner', 'postgresql/database', 5432],
  ['nats/bus', 'nats/bus', 6222],
];

// The model class (npm kubernetes-models) of an apiVersion and kind, or null.
function modelFor(apiVersion, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return null;
  }
  try {
    // eslint-disable-next-line global-require, import/no-dynamic-require
    return require(`kubernetes-models/${apiVersion}/${kind}`)[kind] || null;
  } catch (error) {
    return null;
  }
}

// Wraps `value` so that every key the schema's validator reads is recorded: the validators
// (compiled JSON Schema) read each property their schema names and enumerate only maps (labels,
// resources), so a key of an object that was neither read nor enumerated is one the schema does
// not know.
function tracked(value, fieldPath, nodes) {
  if (value === null || typeof value !== 'object') return value;
  const node = { fieldPath, value, read: new Set(), enumerated: false };
  nodes.push(node);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      node.read.add(key);
      if (child !== null && typeof child === 'object' &&
          Object.prototype.hasOwnProperty.call(target, key)) {
        if (!children.has(key)) {
          const segment = Array.isArray(target) ? Number(key) : key;
          children.set(key, tracked(child, fieldPath.concat(segment), nodes));
        }
        return children.get(key);
      }
      return child;
    },
    has(target, key) {
      if (typeof key === 'string') node.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      node.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function lintKubernetes(renderedFile, sourceDir, version, serveHelp) {
  const serveFlags = readServeFlags(serveHelp);
  const rendered = new YamlFile(renderedFile, `kubectl kustomize ${sourceDir}`);
  const objects = rendered.values().filter((value) => value !== null);

  // Where each object comes from: its source file under sourceDir (kind/name), the generators'
  // ConfigMaps from kustomization.yaml (their names carry a content hash).
  const sources = new Map();
  const kustomizationFile = path.join(sourceDir, 'kustomization.yaml');
  const kustomization = new YamlFile(kustomizationFile);
  const kustomizationValue = kustomization.values()[0] || {};
  for (const file of list(kustomizationValue.resources)) {
    const source = new YamlFile(path.join(sourceDir, file));
    source.values().forEach((value, index) => {
      if (isObject(value) && isObject(value.metadata)) {
        sources.set(`${value.kind}/${value.metadata.name}`, { file: source, index });
      }
    });
  }
  const generated = new Map();
  for (const key of ['configMapGenerator', 'secretGenerator']) {
    list(kustomizationValue[key]).forEach((generator, index) => {
      generated.set(generator.name, [key, index]);
    });
  }

  // Reporting helper for object `index` of the rendered output.
  const at = (index, fieldPath) => {
    const object = objects[index];
    const id = `${object.kind}/${object.metadata && object.metadata.name}`;
    let source = sources.get(id);
    if (!source && object.kind === 'ConfigMap' && object.metadata) {
      const base = String(object.metadata.name).replace(/-[a-z0-9]{10}$/, '');
      if (generated.has(base)) {
        return `${kustomization.name}:${kustomization.line(0, generated.get(base))}: ${id}` +
               ` (generated): ${formatPath(fieldPath)}`;
      }
    }
    if (source) {
      return `${source.file.name}:${source.file.line(source.index, fieldPath)}: ${id}: ` +
             formatPath(fieldPath);
    }
    return `${rendered.name}, line ${rendered.line(index, fieldPath)}: ${id}: ${formatPath(fieldPath)}`;
  };

  // 1. The schema, and the keys it does not know.
  let validated = 0;
  const seen = new Set();
  objects.forEach((object, index) => {
    if (!isObject(object) || typeof object.apiVersion !== 'string' ||
        typeof object.kind !== 'string') {
      problem(`${rendered.name}, document ${index + 1}`, 'not a Kubernetes object (apiVersion, kind)');
      return;
    }
    const Model = modelFor(object.apiVersion, object.kind);
    if (!Model) {
      problem(at(index, ['kind']), `${object.apiVersion} ${object.kind} is no kind the ` +
              'Kubernetes schema (kubernetes-models) knows');
      return;
    }
    const nodes = [];
    try {
      Model.prototype.validate.call(tracked(object, [], nodes));
    } catch (error) {
      for (const detail of list(error.errors)) {
        const fieldPath = String(detail.instancePath || '').split('/').filter(Boolean)
          .map((segment) => (/^[0-9]+$/.test(segment) ? Number(segment)
            : segment.replace(/~1/g, '/').replace(/~0/g, '~')));
        const params = detail.params && detail.params.missingProperty
          ? ` (${detail.params.missingProperty})` : '';
        problem(at(index, fieldPath), `schema: ${detail.message}${params}`);
      }
      if (list(error.errors).length === 0) problem(at(index, []), `schema: ${error.message}`);
    }
    for (const node of nodes) {
      if (Array.isArray(node.value) || node.enumerated) continue;
      for (const key of Object.keys(node.value)) {
        if (!node.read.has(key)) {
          problem(at(index, node.fieldPath.concat(key)),
                  `unknown key "${key}": the ${object.kind} schema has no such field here`);
        }
      }
    }
    const id = `${object.kind}/${object.metadata && object.metadata.namespace}/` +
               `${object.metadata && object.metadata.name}`;
    if (seen.has(id)) problem(at(index, ['metadata', 'name']), 'defined twice');
    seen.add(id);
    validated += 1;
  });
  ok(`${validated} objects validated against the Kubernetes schema (kubernetes-models), ` +
     'no keys it does not know');

  // The objects by kind, and the pod templates of the workloads.
  const byKind = (kind) => objects.map((object, index) => ({ object, index }))
    .filter(({ object }) => isObject(object) && object.kind === kind);
  const findObject = (kind, name) => byKind(kind).find(({ object }) =>
    object.metadata && object.metadata.name === name);
  const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
  const templates = workloads.map(({ object, index }) => {
    const template = (object.spec && object.spec.template) || {};
    const labels = (template.metadata && template.metadata.labels) || {};
    return {
      object, index, labels, spec: template.spec || {},
      id: `${labels['app.kubernetes.io/name']}/${labels['app.kubernetes.io/component']}`,
    };
  });
  const templatesSelectedBy = (selector) => templates.filter((t) => selects(selector, t.labels));

  // 2. Namespace and labels.
  const namespaces = byKind('Namespace');
  const namespaceName = namespaces.length === 1 ? namespaces[0].object.metadata.name : null;
  if (namespaces.length !== 1) problem(rendered.name, `expected one Namespace, found ${namespaces.length}`);
  const namespaceLabels = Object.assign({ 'kubernetes.io/metadata.name': namespaceName },
    namespaces.length === 1 ? namespaces[0].object.metadata.labels : {});
  let labelled = 0;
  objects.forEach((object, index) => {
    if (!isObject(object) || !isObject(object.metadata)) return;
    if (object.kind !== 'Namespace' && object.metadata.namespace !== namespaceName) {
      problem(at(index, ['metadata', 'namespace']),
              `in namespace "${object.metadata.namespace}", not "${namespaceName}"`);
    }
    const labels = object.metadata.labels || {};
    if (labels['app.kubernetes.io/part-of'] !== 'aits') {
      problem(at(index, ['metadata', 'labels']), 'no label app.kubernetes.io/part-of: aits');
    } else {
      labelled += 1;
    }
  });
  for (const t of templates) {
    const own = t.object.metadata.labels || {};
    for (const key of ['app.kubernetes.io/name', 'app.kubernetes.io/component',
      'app.kubernetes.io/part-of']) {
      if (!t.labels[key]) {
        problem(at(t.index, ['spec', 'template', 'metadata', 'labels']), `no label ${key}`);
      } else if (own[key] !== t.labels[key]) {
        problem(at(t.index, ['metadata', 'labels']),
                `label ${key} is "${own[key]}", its pods' "${t.labels[key]}"`);
      }
    }
    const selector = t.object.spec.selector || {};
    if (!selects(selector, t.labels)) {
      problem(at(t.index, ['spec', 'selector']), 'does not select its own pod template');
    }
    const others = templates.filter((o) => o !== t && selects(selector, o.labels));
    if (others.length > 0) {
      problem(at(t.index, ['spec', 'selector']),
              `also selects the pods of ${others.map((o) => `${o.object.kind}/${o.object.metadata.name}`).join(', ')}`);
    }
  }
  ok(`${labelled} objects labelled part-of aits in namespace ${namespaceName}; ` +
     `${templates.length} workloads select their own pods (name, component)`);

  // 3. Containers: references, probes, resources, security.
  const configMaps = new Map(byKind('ConfigMap').map(({ object }) =>
    [object.metadata.name, Object.keys(object.data || {}).concat(Object.keys(object.binaryData || {}))]));
  const secrets = new Map(byKind('Secret').map(({ object }) =>
    [object.metadata.name, Object.keys(object.data || {}).concat(Object.keys(object.stringData || {}))]));
  const stores = { configMap: configMaps, secret: secrets };
  const checkRef = (where, kind, name, key, optional) => {
    const keys = stores[kind].get(name);
    if (keys === undefined) {
      if (!optional) problem(where, `${kind === 'configMap' ? 'ConfigMap' : 'Secret'} "${name}" does not exist`);
      return null;
    }
    if (key !== undefined && !keys.includes(key) && !optional) {
      problem(where, `${kind === 'configMap' ? 'ConfigMap' : 'Secret'} "${name}" has no key "${key}"`);
    }
    return keys;
  };
  let containers = 0;
  for (const t of templates) {
    const base = ['spec', 'template', 'spec'];
    const podSecurity = t.spec.securityContext || {};
    const volumes = list(t.spec.volumes);
    const claimNames = list(t.object.spec.volumeClaimTemplates).map((c) => c.metadata && c.metadata.name);
    const mounted = new Set();
    if (t.spec.automountServiceAccountToken !== false) {
      problem(at(t.index, base), 'automountServiceAccountToken is not false (no pod talks to the API server)');
    }
    for (const flag of ['hostNetwork', 'hostPID', 'hostIPC']) {
      if (t.spec[flag]) problem(at(t.index, base.concat(flag)), `${flag} is not allowed`);
    }
    volumes.forEach((volume, v) => {
      const where = at(t.index, base.concat('volumes', v));
      if (volume.hostPath) problem(where, 'hostPath volumes are not allowed');
      if (volume.configMap) {
        const keys = checkRef(where, 'configMap', volume.configMap.name, undefined, volume.configMap.optional);
        for (const item of list(volume.configMap.items)) {
          if (keys && !keys.includes(item.key)) problem(where, `ConfigMap "${volume.configMap.name}" has no key "${item.key}"`);
        }
      }
      if (volume.secret) {
        const keys = checkRef(where, 'secret', volume.secret.secretName, undefined, volume.secret.optional);
        for (const item of list(volume.secret.items)) {
          if (keys && !keys.includes(item.key)) problem(where, `Secret "${volume.secret.secretName}" has no key "${item.key}"`);
        }
      }
    });
    for (const claim of list(t.object.spec.volumeClaimTemplates)) {
      const storage = claim.spec && claim.spec.resources && claim.spec.resources.requests &&
        claim.spec.resources.requests.storage;
      if (!storage) problem(at(t.index, ['spec', 'volumeClaimTemplates']), `claim ${claim.metadata.name}: no storage request`);
    }
    const allContainers = [
      ...list(t.spec.containers).map((c, i) => ({ c, where: base.concat('containers', i), init: false })),
      ...list(t.spec.initContainers).map((c, i) => ({ c, where: base.concat('initContainers', i), init: true })),
    ];
    for (const { c, where: cPath, init } of allContainers) {
      containers += 1;
      const here = (...rest) => `${at(t.index, cPath.concat(...rest))} (container ${c.name})`;
      const security = c.securityContext || {};
      // Image: ours at the project's version; any other pinned to a tag.
      const image = String(c.image || '');
      const tag = /:([^/:@]+)$/.exec(image);
      if (!tag || tag[1] === 'latest') {
        problem(here('image'), `image "${image}" has no tag (or :latest): pin it`);
      } else if (/^localhost\/aits(-[a-z]+)?:/.test(image) && tag[1] !== version) {
        problem(here('image'), `image "${image}": tag ${tag[1]} is not the project's version ${version} (CMakeLists.txt)`);
      }
      // Probes (not for init containers, which Kubernetes does not probe).
      const ports = list(c.ports);
      const hasPort = (port) => ports.some((p) => p.name === port || p.containerPort === port);
      if (!init) {
        for (const probe of ['livenessProbe', 'readinessProbe']) {
          if (!c[probe]) problem(here(), `no ${probe}`);
        }
        for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
          const action = c[probe] && (c[probe].httpGet || c[probe].tcpSocket);
          if (action && !hasPort(action.port)) {
            problem(here(probe), `probes port ${action.port}, which the container does not declare`);
          }
        }
      }
      // Resources: requests and limits of cpu and memory, requests within limits.
      const resources = c.resources || {};
      for (const resource of ['cpu', 'memory']) {
        const request = resources.requests && resources.requests[resource];
        const limit = resources.limits && resources.limits[resource];
        if (request === undefined) problem(here('resources'), `no ${resource} request`);
        if (limit === undefined) problem(here('resources'), `no ${resource} limit`);
        if (request !== undefined && limit !== undefined && quantity(request) > quantity(limit)) {
          problem(here('resources'), `${resource} request ${request} exceeds its limit ${limit}`);
        }
      }
      // The restricted Pod Security Standard, and a read-only root filesystem.
      const runAsNonRoot = security.runAsNonRoot !== undefined ? security.runAsNonRoot : podSecurity.runAsNonRoot;
      const runAsUser = security.runAsUser !== undefined ? security.runAsUser : podSecurity.runAsUser;
      const seccomp = (security.seccompProfile || podSecurity.seccompProfile || {}).type;
      const runAsGroup = security.runAsGroup !== undefined ? security.runAsGroup : podSecurity.runAsGroup;
      if (runAsNonRoot !== true) problem(here('securityContext'), 'runAsNonRoot is not true');
      if (runAsUser !== IMAGE_UID || runAsGroup !== IMAGE_UID || podSecurity.fsGroup !== IMAGE_UID) {
        problem(here('securityContext'), `runAsUser ${runAsUser}, runAsGroup ${runAsGroup}, fsGroup ` +
                `${podSecurity.fsGroup}: the images' user is ${IMAGE_UID} (deploy/Containerfile)`);
      }
      if (security.allowPrivilegeEscalation !== false) problem(here('securityContext'), 'allowPrivilegeEscalation is not false');
      if (security.readOnlyRootFilesystem !== true) problem(here('securityContext'), 'readOnlyRootFilesystem is not true');
      if (security.privileged) problem(here('securityContext'), 'privileged');
      const capabilities = security.capabilities || {};
      if (!list(capabilities.drop).includes('ALL')) problem(here('securityContext'), 'capabilities do not drop ALL');
      if (list(capabilities.add).length > 0) problem(here('securityContext'), 'adds capabilities');
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
        problem(here('securityContext'), 'no seccompProfile RuntimeDefault (pod or container)');
      }
      // Environment: references, and the $(VARS) of command, args and values.
      const defined = new Set();
      let sourcesMissing = false;
      list(c.envFrom).forEach((source, s) => {
        const ref = source.configMapRef ? ['configMap', source.configMapRef] : source.secretRef ? ['secret', source.secretRef] : null;
        if (!ref) return;
        const keys = checkRef(here('envFrom', s), ref[0], ref[1].name, undefined, ref[1].optional);
        if (keys === null) {
          sourcesMissing = true;
          return;
        }
        for (const key of keys) {
          const name = (source.prefix || '') + key;
          // The kubelet skips keys that are no environment variable name.
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
            problem(here('envFrom', s), `key "${key}" is no environment variable name`);
          }
          defined.add(name);
        }
      });
      list(c.env).forEach((variable, e) => {
        const from = variable.valueFrom || {};
        if (from.configMapKeyRef) {
          checkRef(here('env', e), 'configMap', from.configMapKeyRef.name, from.configMapKeyRef.key, from.configMapKeyRef.optional);
        }
        if (from.secretKeyRef) {
          checkRef(here('env', e), 'secret', from.secretKeyRef.name, from.secretKeyRef.key, from.secretKeyRef.optional);
        }
        defined.add(variable.name);
      });
      const references = [
        ...list(c.command).map((value, i) => [['command', i], value]),
        ...list(c.args).map((value, i) => [['args', i], value]),
        ...list(c.env).map((variable, i) => [['env', i, 'value'], variable.value]),
      ];
      // (Not when an envFrom source is missing: that is the problem, reported above.)
      for (const [fieldPath, value] of sourcesMissing ? [] : references) {
        if (typeof value !== 'string') continue;
        // $(NAME), not $$(NAME) (the escaped form, passed on literally).
        for (const match of value.matchAll(/(\$*)\$\(([^)]*)\)/g)) {
          if (match[1].length % 2 === 1) continue;
          if (!defined.has(match[2])) {
            problem(here(...fieldPath), `$(${match[2]}) names no variable of the container: ` +
                    'Kubernetes would pass it on literally');
          }
        }
      }
      // Volume mounts.
      list(c.volumeMounts).forEach((mount, m) => {
        mounted.add(mount.name);
        if (!volumes.some((v) => v.name === mount.name) && !claimNames.includes(mount.name)) {
          problem(here('volumeMounts', m), `mounts "${mount.name}", which is no volume of the pod`);
        }
      });
    }
    for (const name of [...volumes.map((v) => v.name), ...claimNames]) {
      if (!mounted.has(name)) problem(at(t.index, base.concat('volumes')), `volume "${name}" is mounted by no container`);
    }
  }
  ok(`${containers} containers: probes on declared ports, requests and limits, restricted ` +
     'security context, ConfigMap/Secret/volume references and $(VARS) resolved');

  // 4. Services select pods and reach declared ports; StatefulSets' governing Services.
  for (const { object, index } of byKind('Service')) {
    const selector = object.spec && object.spec.selector;
    if (!isObject(selector)) {
      problem(at(index, ['spec', 'selector']), 'no selector');
      continue;
    }
    const matched = templatesSelectedBy({ matchLabels: selector });
    if (matched.length === 0) {
      problem(at(index, ['spec', 'selector']), `selects no pod (${JSON.stringify(selector)})`);
      continue;
    }
    list(object.spec.ports).forEach((port, p) => {
      const target = port.targetPort !== undefined ? port.targetPort : port.port;
      for (const t of matched) {
        const declared = list(t.spec.containers).some((c) =>
          list(c.ports).some((cp) => cp.name === target || cp.containerPort === target));
        if (!declared) {
          problem(at(index, ['spec', 'ports', p]),
                  `targetPort ${target} is no port of the pods of ${t.object.kind}/${t.object.metadata.name}`);
        }
      }
    });
  }
  for (const t of templates.filter((x) => x.object.kind === 'StatefulSet')) {
    const name = t.object.spec.serviceName;
    const service = findObject('Service', name);
    if (!service) {
      problem(at(t.index, ['spec', 'serviceName']), `Service "${name}" does not exist`);
    } else if (service.object.spec.clusterIP !== 'None') {
      problem(at(t.index, ['spec', 'serviceName']), `Service "${name}" is not headless (clusterIP: None)`);
    } else if (!selects({ matchLabels: service.object.spec.selector }, t.labels)) {
      problem(at(t.index, ['spec', 'serviceName']), `Service "${name}" does not select these pods`);
    }
  }
  ok(`${byKind('Service').length} Services select pods and target their declared ports; ` +
     'StatefulSets name headless Services of their own pods');

  // 5. Disruption budgets and the autoscaler.
  for (const { object, index } of byKind('PodDisruptionBudget')) {
    if (templatesSelectedBy(object.spec.selector).length === 0) {
      problem(at(index, ['spec', 'selector']), 'selects no pod');
    }
  }
  for (const { object, index } of byKind('HorizontalPodAutoscaler')) {
    const ref = object.spec.scaleTargetRef || {};
    const target = findObject(ref.kind, ref.name);
    if (!target) {
      problem(at(index, ['spec', 'scaleTargetRef']), `${ref.kind}/${ref.name} does not exist`);
      continue;
    }
    if (target.object.spec.replicas !== undefined) {
      problem(at(target.index, ['spec', 'replicas']),
              `set, while HorizontalPodAutoscaler/${object.metadata.name} owns the count: every apply would reset it`);
    }
    if (object.spec.minReplicas > object.spec.maxReplicas) {
      problem(at(index, ['spec', 'minReplicas']), 'above maxReplicas');
    }
    list(object.spec.metrics).forEach((metric, m) => {
      if (metric.type !== 'Resource' || !metric.resource || metric.resource.target.type !== 'Utilization') return;
      for (const c of list(target.object.spec.template.spec.containers)) {
        const requests = (c.resources && c.resources.requests) || {};
        if (requests[metric.resource.name] === undefined) {
          problem(at(index, ['spec', 'metrics', m]),
                  `utilization of ${metric.resource.name}, but container ${c.name} requests none`);
        }
      }
    });
  }
  ok(`${byKind('PodDisruptionBudget').length} PodDisruptionBudgets select pods; ` +
     `${byKind('HorizontalPodAutoscaler').length} autoscaler targets exist, own their counts, scale on requested resources`);

  // 6. Network policies: selectors, ports, and the connections they allow.
  const policies = byKind('NetworkPolicy');
  const portOf = (template, port) => list(template.spec.containers).flatMap((c) => list(c.ports))
    .find((p) => p.name === port || p.containerPort === port);
  for (const { object, index } of policies) {
    const spec = object.spec || {};
    if (Object.keys(spec.podSelector || {}).length > 0 && templatesSelectedBy(spec.podSelector).length === 0) {
      problem(at(index, ['spec', 'podSelector']), 'selects no pod');
    }
    for (const direction of ['ingress', 'egress']) {
      list(spec[direction]).forEach((rule, r) => {
        const peers = list(direction === 'ingress' ? rule.from : rule.to);
        peers.forEach((peer, p) => {
          if (peer.podSelector && !peer.namespaceSelector &&
              templatesSelectedBy(peer.podSelector).length === 0) {
            problem(at(index, ['spec', direction, r, direction === 'ingress' ? 'from' : 'to', p]),
                    'podSelector selects no pod');
          }
        });
        // The ports must be ports of the pods at the receiving end.
        const receivers = direction === 'ingress' ? templatesSelectedBy(spec.podSelector)
          : peers.filter((peer) => peer.podSelector && !peer.namespaceSelector)
            .flatMap((peer) => templatesSelectedBy(peer.podSelector));
        list(rule.ports).forEach((port, q) => {
          for (const t of receivers) {
            if (!portOf(t, port.port)) {
              problem(at(index, ['spec', direction, r, 'ports', q]),
                      `port ${port.port} is no port of the pods of ${t.object.kind}/${t.object.metadata.name}`);
            }
          }
        });
      });
    }
  }
  // Whether the policies let `source` open a connection to `dest`'s port (number), by the
  // NetworkPolicy rules: isolated in a direction once a policy of that type selects the pod, then
  // allowed by any rule of any of them.
  const policyTypes = (spec) => spec.policyTypes || (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
  const portMatches = (rulePorts, template, number, protocol) => {
    if (list(rulePorts).length === 0) return true;
    return rulePorts.some((p) => {
      if ((p.protocol || 'TCP') !== protocol) return false;
      if (p.port === undefined) return true;
      const declared = portOf(template, p.port);
      const low = typeof p.port === 'number' ? p.port : declared && declared.containerPort;
      return low !== undefined && number >= low && number <= (p.endPort || low);
    });
  };
  const peerMatches = (peers, template, inNamespace) => {
    if (peers === undefined) return true;
    return peers.some((peer) => {
      if (peer.ipBlock) return false;
      const namespaceOk = peer.namespaceSelector ? selects(peer.namespaceSelector, inNamespace) : true;
      const podOk = peer.podSelector ? selects(peer.podSelector, template.labels) : true;
      return namespaceOk && podOk;
    });
  };
  const allowed = (source, dest, number, protocol) => {
    const direction = (pod, type, key, other, port) => {
      const applying = policies.filter(({ object }) => selects(object.spec.podSelector || {}, pod.labels) &&
        policyTypes(object.spec).includes(type));
      if (applying.length === 0) return true;
      return applying.some(({ object }) => list(object.spec[key]).some((rule) =>
        peerMatches(type === 'Ingress' ? rule.from : rule.to, other, namespaceLabels) &&
        portMatches(rule.ports, port, number, protocol)));
    };
    return direction(source, 'Egress', 'egress', dest, dest) &&
      direction(dest, 'Ingress', 'ingress', source, dest);
  };
  const expected = new Set(CONNECTIONS.map(([from, to, port]) => `${from} -> ${to}:${port}`));
  for (const [from, to] of CONNECTIONS) {
    for (const id of [from, to]) {
      if (!templates.some((t) => t.id === id)) problem(rendered.name, `no pods ${id}, which CONNECTIONS names`);
    }
  }
  let checkedPairs = 0;
  for (const source of templates) {
    for (const dest of templates) {
      for (const port of list(dest.spec.containers).flatMap((c) => list(c.ports))) {
        if ((port.protocol || 'TCP') !== 'TCP') continue;
        checkedPairs += 1;
        const key = `${source.id} -> ${dest.id}:${port.containerPort}`;
        const isAllowed = allowed(source, dest, port.containerPort, 'TCP');
        if (isAllowed && !expected.has(key)) {
          problem(at(source.index, ['metadata', 'name']), `the NetworkPolicies allow ${key}, which the system does not use`);
        }
        if (!isAllowed && expected.has(key)) {
          problem(at(source.index, ['metadata', 'name']), `the NetworkPolicies block ${key}, which the system needs`);
        }
      }
    }
    // DNS: to kube-dns in kube-system, port 53.
    const dns = { labels: { 'k8s-app': 'kube-dns' }, spec: { containers: [] } };
    const dnsNamespace = { 'kubernetes.io/metadata.name': 'kube-system' };
    const egress = policies.filter(({ object }) => selects(object.spec.podSelector || {}, source.labels) &&
      policyTypes(object.spec).includes('Egress'));
    const dnsAllowed = egress.length === 0 || egress.some(({ object }) => list(object.spec.egress).some((rule) =>
      peerMatches(rule.to, dns, dnsNamespace) && portMatches(rule.ports, dns, 53, 'UDP')));
    if (!dnsAllowed) problem(at(source.index, ['metadata', 'name']), 'the NetworkPolicies block DNS (kube-dns, UDP 53)');
  }
  ok(`${policies.length} NetworkPolicies select pods and ports that exist; of ${checkedPairs} ` +
     `pod-to-port pairs they allow exactly the system's ${expected.size} connections, and DNS`);

  // 7. One session for every role: the same flags, apart from the role's own.
  const roles = templates.filter((t) => t.labels['app.kubernetes.io/name'] === 'aits');
  const session = oneSession(roles.map((t) => {
    const args = list((list(t.spec.containers)[0] || {}).args);
    const where = at(t.index, ['spec', 'template', 'spec', 'containers', 0, 'args']);
    return { name: t.object.metadata.name, args, where };
  }), serveFlags);
  ok(`${roles.length} roles run one session: ${session}` +
     (serveFlags ? '; every flag is one that aits serve --help lists' : ''));

  // 8. Secrets in the repository are placeholders.
  for (const { object, index } of byKind('Secret')) {
    for (const [key, value] of [...entries(object.stringData),
      ...entries(object.data).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()])]) {
      if (!String(value).startsWith('PLACEHOLDER')) {
        problem(at(index, ['stringData', key]), 'holds a value that is no PLACEHOLDER: never commit a secret');
      }
    }
  }
  ok(`${byKind('Secret').length} Secrets hold placeholders only (replace them before applying: docs/deployment.md)`);
}

// ---------------------------------------------------------------------------------------------
// Compose.

function lintCompose(configFile, composeFile, envExample, version, serveHelp) {
  const serveFlags = readServeFlags(serveHelp);
  const config = new YamlFile(configFile, 'docker-compose config').values()[0] || {};
  const source = new YamlFile(composeFile);
  const services = config.services || {};
  const where = (service, ...fieldPath) => `${source.name}:${source.line(0, ['services', service, ...fieldPath])}: ` +
    `service ${service}: ${formatPath(fieldPath)}`;

  const roles = [];
  for (const [name, service] of Object.entries(services)) {
    const ulimits = service.ulimits || {};
    for (const limit of ['nofile', 'nproc']) {
      const value = ulimits[limit];
      const soft = isObject(value) ? value.soft : value;
      const hard = isObject(value) ? value.hard : value;
      if (soft !== 1024 || hard !== 1024) {
        problem(where(name, 'ulimits'), `${limit} must be 1024 (soft and hard): rootful podman here needs it`);
      }
    }
    const health = service.healthcheck || {};
    if (!Array.isArray(health.test) && typeof health.test !== 'string') {
      problem(where(name, 'healthcheck'), 'no health check');
    } else if ((Array.isArray(health.test) ? health.test[0] : health.test) === 'NONE' || health.disable) {
      problem(where(name, 'healthcheck'), 'health check disabled');
    }
    const image = String(service.image || '');
    const tag = /:([^/:@]+)$/.exec(image);
    if (!tag || tag[1] === 'latest') problem(where(name, 'image'), `image "${image}" has no tag (or :latest)`);
    else if (/^localhost\/aits(-[a-z]+)?:/.test(image) && tag[1] !== version) {
      problem(where(name, 'image'), `image "${image}": tag ${tag[1]} is not the project's version ${version}`);
    }
    if (String(service.user) !== `${IMAGE_UID}:${IMAGE_UID}`) {
      problem(where(name, 'user'), `user "${service.user || ''}": the images' user is ` +
              `${IMAGE_UID}:${IMAGE_UID} (deploy/Containerfile)`);
    }
    if (service.read_only !== true) problem(where(name, 'read_only'), 'the root filesystem is not read-only');
    if (!list(service.cap_drop).includes('ALL')) problem(where(name, 'cap_drop'), 'capabilities are not dropped (ALL)');
    if (!service.restart) problem(where(name, 'restart'), 'no restart policy');
    for (const [dependency, condition] of entries(service.depends_on)) {
      if (!services[dependency]) {
        problem(where(name, 'depends_on'), `depends on "${dependency}", which is no service`);
      } else if (condition.condition === 'service_healthy' && !services[dependency].healthcheck) {
        problem(where(name, 'depends_on'), `waits for "${dependency}" to be healthy, which has no health check`);
      }
    }
    if (/^localhost\/aits:/.test(image)) {
      // The entrypoint names the binary first; the arguments follow it.
      const args = [...list(service.entrypoint).slice(1), ...list(service.command)];
      roles.push({ name, args, where: where(name, 'command') });
    }
  }
  ok(`${Object.keys(services).length} services: ulimits nofile/nproc 1024, health checks, non-root, ` +
     `read-only, no capabilities, images at ${version}, dependencies that exist`);
  const session = oneSession(roles, serveFlags);
  ok(`${roles.length} roles run one session: ${session}` +
     (serveFlags ? '; every flag is one that aits serve --help lists' : ''));

  // No password written into the compose file (only ${VARIABLE} interpolations) or into the
  // example environment file (only placeholders).
  const walk = (value, fieldPath) => {
    if (isObject(value)) {
      for (const [key, child] of Object.entries(value)) {
        if (/password/i.test(key) && !isObject(child) && !Array.isArray(child) &&
            !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$/.test(String(child))) {
          problem(`${source.name}:${source.line(0, fieldPath.concat(key))}: ${formatPath(fieldPath.concat(key))}`,
                  'a password written into the file: interpolate it (${VARIABLE}) from deploy/.env');
        }
        walk(child, fieldPath.concat(key));
      }
    } else if (Array.isArray(value)) {
      value.forEach((child, i) => walk(child, fieldPath.concat(i)));
    }
  };
  walk(source.values()[0], []);
  fs.readFileSync(envExample, 'utf8').split('\n').forEach((line, i) => {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (match && /password/i.test(match[1]) && !match[2].startsWith('PLACEHOLDER')) {
      problem(`${envExample}:${i + 1}: ${match[1]}`, 'holds a value that is no PLACEHOLDER: never commit a secret');
    }
  });
  ok(`no password in ${source.name} or ${envExample}`);
}

// ---------------------------------------------------------------------------------------------
// Containerfile.

// The targets deploy/build-image.sh builds; aits last, so that a build without --target makes it.
const TARGETS = ['nats', 'postgres', 'redis', 'aits'];

function lintContainerfile(file) {
  // Instructions with the line they start on: continuation lines joined, comments dropped.
  const instructions = [];
  let current = null;
  fs.readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (current === null && line === '')) return;
    if (current === null) current = { line: i + 1, text: '' };
    if (line.endsWith('\\')) {
      current.text += `${line.slice(0, -1).trim()} `;
    } else {
      current.text += line;
      instructions.push(current);
      current = null;
    }
  });
  const stages = [];
  for (const instruction of instructions) {
    const keyword = instruction.text.split(/\s+/)[0].toUpperCase();
    const rest = instruction.text.slice(keyword.length).trim();
    const where = `${file}:${instruction.line}`;
    if (keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) || [];
      stages.push({ base: match[1], name: match[2], line: instruction.line });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) continue; // ARGs before the first FROM
    if (keyword === 'USER') stage.user = { value: rest, where };
    if (keyword === 'ENTRYPOINT' || keyword === 'HEALTHCHECK') {
      // Exec form: a JSON array (after HEALTHCHECK's options and CMD).
      const json = keyword === 'HEALTHCHECK' ? (/\bCMD\s+(.*)$/.exec(rest) || [])[1] : rest;
      let parsed = null;
      try {
        parsed = JSON.parse(json);
      } catch (error) {
        parsed = null;
      }
      if (!Array.isArray(parsed) || parsed.length === 0) {
        problem(where, `${keyword} is not in exec form (a JSON array): ${rest}`);
      }
      stage[keyword.toLowerCase()] = { value: parsed, where };
    }
  }
  // What a stage inherits from the stage it is built FROM.
  const resolved = (stage, key) => {
    for (let s = stage; s; s = stages.find((other) => other.name && other.name === s.base)) {
      if (s[key]) return s[key];
    }
    return null;
  };
  for (const target of TARGETS) {
    const stage = stages.find((s) => s.name === target);
    if (!stage) {
      problem(file, `no target "${target}" (FROM ... AS ${target}), which deploy/build-image.sh builds`);
      continue;
    }
    const where = `${file}:${stage.line}: target ${target}`;
    const user = resolved(stage, 'user');
    if (!user || user.value !== `${IMAGE_UID}:${IMAGE_UID}`) {
      problem(where, `USER is ${user ? user.value : 'root (none)'}, not ${IMAGE_UID}:${IMAGE_UID}`);
    }
    if (!resolved(stage, 'healthcheck')) problem(where, 'no HEALTHCHECK');
    if (!resolved(stage, 'entrypoint')) problem(where, 'no ENTRYPOINT');
  }
  const last = stages[stages.length - 1];
  if (last && last.name !== 'aits') problem(`${file}:${last.line}`, 'the last stage is not aits (the default target)');
  ok(`${stages.length} stages; targets ${TARGETS.join(', ')} run as ${IMAGE_UID}:${IMAGE_UID} with a ` +
     'health check and an exec-form entrypoint; aits is the default');
}

// ---------------------------------------------------------------------------------------------

function main(argv) {
  const [mode, ...args] = argv;
  if (mode === 'k8s' && (args.length === 3 || args.length === 4)) {
    lintKubernetes(...args);
  } else if (mode === 'compose' && (args.length === 4 || args.length === 5)) {
    lintCompose(...args);
  } else if (mode === 'containerfile' && args.length === 1) {
    lintContainerfile(...args);
  } else {
    console.error('usage: lint-manifests.js k8s RENDERED.yaml SOURCE_DIR VERSION [SERVE_HELP]\n' +
                  '       lint-manifests.js compose CONFIG.yaml COMPOSE.yaml ENV_EXAMPLE VERSION [SERVE_HELP]\n' +
                  '       lint-manifests.js containerfile Containerfile');
    return 2;
  }
  if (problems > 0) {
    console.log(`${problems} problem(s)`);
    return 1;
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`lint-manifests: ${error.message}`);
  process.exitCode = 1;
}
