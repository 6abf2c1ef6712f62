// The model registry (docs/api.md, "Models"): the registered models with their validation and
// test metrics, and one model's detail — metrics, parameters, training range, feature set, the
// registry's audit lines and its lineage (parent ensemble, members, other versions), each a
// link. Admins also get the promotion through the registry's gate, with its verdict.
import {type Api, errorText, type Me} from './api';
import {clickableRow, h, isObject, type Json, kv, num, replace, time, value} from './dom';

interface Summary {
  id: number;
  ref: string;
  kind: string;
  status: string;
}

interface Model extends Summary {
  name: string;
  version: number;
  feature_set_version: string;
  feature_set_hash: string;
  train_begin: string;
  train_end: string;
  params: unknown;
  metrics: Json;
  data_source: string;
  parent: string|null;
  code_version: string;
  created_at: string;
  checksum: string;
  size_bytes: number;
}

interface Detail extends Model {
  events: string[];
  lineage: {parent: Summary|null; members: Summary[]; versions: Summary[]};
}

interface Promotion {
  passed: boolean;
  gate: string;
  model: Model;
}

const kSplits = ['validation', 'test', 'baseline'];

// The numbers of one split of a model's metrics: its own, plus what the split keeps per model
// kind (an ensemble's test metrics are under `models.ensemble`, its information coefficient
// under `ic.ensemble`).
function splitMetrics(metrics: Json, split: string, kind: string): Map<string, number> {
  const out = new Map<string, number>();
  const part = metrics[split];
  if (!isObject(part)) return out;
  for (const [name, v] of Object.entries(part)) {
    if (typeof v === 'number') out.set(name, v);
    if (isObject(v) && typeof v[kind] === 'number') out.set(name, v[kind]);
  }
  const models = part['models'];
  if (isObject(models) && isObject(models[kind])) {
    for (const [name, v] of Object.entries(models[kind])) {
      if (typeof v === 'number') out.set(name, v);
    }
  }
  return out;
}

function badge(status: string): HTMLElement {
  return h('span', {class: `badge model-${status}`}, status);
}

function link(s: Summary): HTMLElement {
  return h(
      'li', {}, h('a', {href: `#models/${s.id}`, 'data-testid': `model-link-${s.id}`}, s.ref),
      ` ${s.kind} `, badge(s.status));
}

function links(list: Summary[], none: string): HTMLElement {
  return list.length === 0 ? h('p', {class: 'muted'}, none) : h('ul', {}, ...list.map(link));
}

export class ModelsView {
  readonly element: HTMLElement;
  private readonly listBody = h('tbody');
  private readonly listError = h('div', {class: 'error', 'data-testid': 'models-error'});
  private readonly detail =
      h('div', {'data-testid': 'model-detail'},
        h('p', {class: 'muted'}, 'Pick a model to see its metrics, lineage and history.'));
  private shown = 0;

  constructor(private readonly api: Api, private readonly me: Me) {
    this.element =
        h('div', {class: 'grid halves', 'data-testid': 'view-models'},
          h('section', {class: 'panel'}, h('h2', {}, 'Models'), this.listError,
            h('div', {class: 'scroll'},
              h('table', {'data-testid': 'models'},
                h('thead', {},
                  h('tr', {},
                    ...['id', 'ref', 'kind', 'status', 'val. auc', 'test auc', 'created'].map(
                        (x) => h('th', {}, x)))),
                this.listBody))),
          h('section', {class: 'panel'}, h('h2', {}, 'Model'), this.detail));
  }

  // The list, and the model `id` (0: none) in detail.
  async show(id: number): Promise<void> {
    await Promise.all([this.load(), id > 0 ? this.showModel(id) : Promise.resolve()]);
  }

  private async load(): Promise<void> {
    let models: Model[];
    try {
      models = (await this.api.get<{items: Model[]}>('/api/v1/models?limit=200')).items;
    } catch (e) {
      // Without a registry the API answers 503 and names the flag it lacks: said as it is.
      replace(this.listError, errorText(e));
      replace(this.listBody);
      return;
    }
    replace(this.listError);
    replace(this.listBody, ...models.map((m) => {
      const validation = splitMetrics(m.metrics, 'validation', m.kind);
      const test = splitMetrics(m.metrics, 'test', m.kind);
      return clickableRow(
          {'data-testid': `model-${m.id}`, 'data-status': m.status}, m.id === this.shown,
          () => {
            window.location.hash = `#models/${m.id}`;
          },
          h('td', {}, m.id), h('td', {}, m.ref), h('td', {}, m.kind), h('td', {}, badge(m.status)),
          h('td', {}, num(validation.get('auc'), 3)), h('td', {}, num(test.get('auc'), 3)),
          h('td', {}, time(m.created_at)));
    }));
    if (models.length === 0) {
      this.listBody.append(
          h('tr', {}, h('td', {colspan: '7', class: 'muted'}, 'the registry holds no model')));
    }
  }

  // `verdict`: a promotion's answer, shown under the model as it now is.
  private async showModel(id: number, verdict?: HTMLElement): Promise<void> {
    this.shown = id;
    let model: Detail;
    try {
      model = await this.api.get<Detail>(`/api/v1/models/${id}`);
    } catch (e) {
      replace(this.detail, h('div', {class: 'error'}, errorText(e)));
      return;
    }
    if (this.shown !== id) return;  // another model was picked meanwhile
    const lineage = model.lineage;
    replace(
        this.detail, h('h3', {'data-testid': 'model-ref'}, `${model.ref} `, badge(model.status)),
        kv(
            [
              ['id', model.id],
              ['kind', model.kind],
              ['status', model.status],
              ['created', time(model.created_at)],
              ['trained on', `${time(model.train_begin)} → ${time(model.train_end)}`],
              ['data', model.data_source],
              ['feature set', `${model.feature_set_version} (hash ${model.feature_set_hash})`],
              ['code', model.code_version],
              ['file', `${model.checksum}, ${model.size_bytes} bytes`],
            ],
            'model-facts'),
        h('h3', {}, 'Metrics'), this.metricsTable(model), h('h3', {}, 'Lineage'),
        h('div', {'data-testid': 'model-lineage'}, h('h4', {}, 'Ensemble'),
          lineage.parent === null ? h('p', {class: 'muted'}, 'none: not a member') :
                                    h('ul', {}, link(lineage.parent)),
          h('h4', {}, 'Members'), links(lineage.members, 'none'), h('h4', {}, 'Other versions'),
          links(lineage.versions, 'none')),
        h('h3', {}, 'History'),
        model.events.length === 0 ?
            h('p', {class: 'muted'}, 'no audit lines') :
            h('ul', {'data-testid': 'model-events'}, ...model.events.map((e) => h('li', {}, e))),
        h('details', {}, h('summary', {}, 'Parameters'),
          h('pre', {class: 'params', 'data-testid': 'model-params'},
            JSON.stringify(model.params, null, 2))));
    if (this.me.role === 'admin') this.detail.append(this.promoteControls(model, verdict));
  }

  // Each split's metrics side by side, then the test metrics of each model kind an ensemble
  // keeps (its members and the baselines).
  private metricsTable(model: Model): HTMLElement {
    const splits = kSplits.map((s) => splitMetrics(model.metrics, s, model.kind));
    const names = [...new Set(splits.flatMap((m) => [...m.keys()]))].sort();
    const out =
        h('div', {'data-testid': 'model-metrics'},
          names.length === 0 ?
              h('p', {class: 'muted'}, 'no metrics') :
              h('div', {class: 'scroll'},
                h('table', {},
                  h('thead', {},
                    h('tr', {}, h('th', {}, 'metric'), ...kSplits.map((s) => h('th', {}, s)))),
                  h('tbody', {},
                    ...names.map(
                        (n) =>
                            h('tr', {}, h('td', {}, n),
                              ...splits.map((m) => h('td', {}, value(m.get(n))))))))));
    const test = model.metrics['test'];
    const kinds = isObject(test) && isObject(test['models']) ? test['models'] : null;
    if (kinds !== null) {
      const columns = ['auc', 'accuracy', 'f1', 'log_loss', 'brier'];
      out.append(
          h('h4', {}, 'Test, by model'),
          h('div', {class: 'scroll'},
            h('table', {},
              h('thead', {},
                h('tr', {}, h('th', {}, 'model'), ...columns.map((c) => h('th', {}, c)))),
              h('tbody', {},
                ...Object.entries(kinds).map(
                    ([kind, m]) =>
                        h('tr', {}, h('td', {}, kind),
                          ...columns.map(
                              (c) => h('td', {}, value(isObject(m) ? m[c] : undefined)))))))));
    }
    return out;
  }

  private promoteControls(model: Model, shownVerdict?: HTMLElement): HTMLElement {
    const verdict = shownVerdict ?? h('div', {'data-testid': 'promote-verdict', role: 'status'});
    const box =
        h('div', {class: 'controls', 'data-testid': 'model-promote-controls'},
          h('h3', {}, 'Promote'));
    if (model.status === 'production') {
      box.append(h('p', {class: 'muted'}, 'In production already.'), verdict);
      return box;
    }
    const reason = h('input', {
      'data-testid': 'promote-reason',
      'aria-label': 'reason',
      placeholder: 'reason (goes into the audit trail)',
      maxlength: '500',
    });
    const metric = h('input', {
      'data-testid': 'promote-metric',
      'aria-label': 'gate metric',
      placeholder: 'gate metric (default auc)',
    });
    const threshold = h('input', {
      'data-testid': 'promote-threshold',
      'aria-label': 'gate threshold',
      placeholder: 'threshold (default 0.5)',
      inputmode: 'decimal',
    });
    const button = h('button', {class: 'warn', 'data-testid': 'model-promote'}, 'Promote');
    button.addEventListener('click', () => {
      replace(verdict);
      const body: Json = {reason: reason.value.trim()};
      if (metric.value.trim() !== '') body['metric'] = metric.value.trim();
      if (threshold.value.trim() !== '') {
        const t = Number(threshold.value.trim());
        if (!Number.isFinite(t)) {
          replace(verdict, h('span', {class: 'error'}, 'threshold: a number is required'));
          return;
        }
        body['threshold'] = t;
      }
      button.disabled = true;
      // An empty reason goes to the API too: its refusal is the message shown.
      this.api.post<Promotion>(`/api/v1/models/${model.id}/promote`, body)
          .then((answer) => {
            // The model and the list drawn again as they now are, the verdict under the model.
            const next =
                h('div', {'data-testid': 'promote-verdict', role: 'status'},
                  h('span', {class: answer.passed ? 'pass' : 'fail'},
                    answer.passed ? 'passed' : 'failed'),
                  `: ${answer.gate} — now `, badge(answer.model.status));
            return Promise.all([this.load(), this.showModel(model.id, next)]);
          })
          .catch((e: unknown) => replace(verdict, h('span', {class: 'error'}, errorText(e))))
          .finally(() => {
            button.disabled = false;
          });
    });
    box.append(
        h('p', {class: 'muted'},
          'Through the registry\'s gate; a candidate that fails is rejected.'),
        reason, h('div', {class: 'buttons'}, metric, threshold, button), verdict);
    return box;
  }
}
