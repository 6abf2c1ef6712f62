// Backtests run through the API (docs/api.md, "Backtests"): the jobs with their progress, a form
// to submit one (traders and admins), a job's live progress (read again every second while it is
// queued or running), and once done its report's metrics and its HTML report. Traders and
// admins may cancel a queued or running job.
import {type Api, errorText, type Me} from './api';
import {clickableRow, h, isObject, type Json, kv, num, replace, time, value} from './dom';
import {reportFrame} from './report_view';

interface Job {
  id: number;
  state: string;
  progress: number;
  count: number;
  submitted_at: string|null;
  started_at: string|null;
  finished_at: string|null;
  by: string;
  request: Json;
  has_result: boolean;
  exit_code?: number;
  error?: string;
}

const kStrategies = ['sma_cross', 'rsi_reversion', 'buy_and_hold', 'random_signal'];

function active(job: Job): boolean {
  return job.state === 'queued' || job.state === 'running';
}

function progressBar(job: Job, testid: string): HTMLElement {
  const bar = h('progress', {max: '1', 'data-testid': testid});
  bar.value = job.progress;
  return h('span', {class: 'progress'}, bar, ` ${(job.progress * 100).toFixed(0)}%`);
}

function what(job: Job): string {
  const r = job.request;
  return [r['strategy'] ?? r['signal'], r['symbol'], r['data']]
      .filter((x) => x !== undefined)
      .map(value)
      .join(' ');
}

// `fast=10, slow=30` as the API's params object; numbers stay numbers.
function parseParams(text: string): Json {
  const out: Json = {};
  for (const piece of text.split(',')) {
    if (piece.trim() === '') continue;
    const at = piece.indexOf('=');
    if (at <= 0) throw new Error(`params: "${piece.trim()}" is not name=value`);
    const raw = piece.slice(at + 1).trim();
    out[piece.slice(0, at).trim()] = raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

// The report's headline numbers, with the page's names for them; the rest follow as they come.
const kHeadline: [string, string, (v: unknown) => string][] = [
  ['net_profit', 'Net profit', (v) => num(v)],
  ['trades', 'Trades', (v) => value(v)],
  ['win_rate', 'Win rate', (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—')],
  [
    'max_drawdown', 'Max drawdown',
    (v) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : '—')
  ],
  ['sharpe', 'Sharpe', (v) => num(v)],
  ['profit_factor', 'Profit factor', (v) => num(v)],
];

export class BacktestsView {
  readonly element: HTMLElement;
  private readonly canRun: boolean;
  private readonly listBody = h('tbody');
  private readonly listError = h('div', {class: 'error', 'data-testid': 'backtests-error'});
  private readonly detail =
      h('div', {'data-testid': 'backtest-detail'},
        h('p', {class: 'muted'}, 'Pick a backtest to follow it and read its report.'));
  private shown = 0;
  private timer = 0;
  private polling = false;  // while the view shows
  private reportShown = 0;

  constructor(private readonly api: Api, me: Me) {
    this.canRun = me.role === 'trader' || me.role === 'admin';
    const list =
        h('section', {class: 'panel'}, h('h2', {}, 'Backtests'), this.listError,
          h('div', {class: 'scroll'},
            h('table', {'data-testid': 'backtests'},
              h('thead', {},
                h('tr', {},
                  ...['id', 'state', 'progress', 'what', 'by', 'submitted'].map(
                      (x) => h('th', {}, x)))),
              this.listBody)));
    if (this.canRun) list.append(this.submitForm());
    this.element =
        h('div', {class: 'grid halves', 'data-testid': 'view-backtests'}, list,
          h('section', {class: 'panel'}, h('h2', {}, 'Backtest'), this.detail));
  }

  // The list, and the job `id` (0: none) in detail.
  async show(id: number): Promise<void> {
    this.polling = true;
    if (id !== this.shown) this.reportShown = 0;
    this.shown = id;
    await this.refresh();
  }

  stop(): void {
    this.polling = false;
    window.clearTimeout(this.timer);
    this.timer = 0;
  }

  // Reads the list and the shown job again, and once more a second later while either has a
  // job queued or running.
  private async refresh(): Promise<void> {
    window.clearTimeout(this.timer);
    this.timer = 0;
    const [jobs, job] =
        await Promise.all([this.load(), this.shown > 0 ? this.showJob(this.shown) : null]);
    // (A read that was under way when the view was left schedules no other.)
    if (this.polling && (jobs.some(active) || (job !== null && active(job)))) {
      this.timer = window.setTimeout(() => void this.refresh(), 1000);
    }
  }

  private async load(): Promise<Job[]> {
    let jobs: Job[];
    try {
      jobs = (await this.api.get<{items: Job[]}>('/api/v1/backtests?limit=100')).items;
    } catch (e) {
      // Without --jobs and --data-dir the API answers 503 and names them: said as it is.
      replace(this.listError, errorText(e));
      replace(this.listBody);
      return [];
    }
    replace(this.listError);
    replace(
        this.listBody,
        ...jobs.map(
            (job) => clickableRow(
                {'data-testid': `backtest-${job.id}`, 'data-state': job.state},
                job.id === this.shown,
                () => {
                  window.location.hash = `#backtests/${job.id}`;
                },
                h('td', {}, job.id), h('td', {}, job.state),
                h('td', {}, progressBar(job, `backtest-progress-${job.id}`)),
                h('td', {}, what(job)), h('td', {}, job.by), h('td', {}, time(job.submitted_at)))));
    if (jobs.length === 0) {
      this.listBody.append(h('tr', {}, h('td', {colspan: '6', class: 'muted'}, 'no backtest yet')));
    }
    return jobs;
  }

  private submitForm(): HTMLElement {
    const input = (name: string, label: string, placeholder: string, attrs: Json = {}) =>
        h('input', {
          name,
          'aria-label': label,
          placeholder,
          'data-testid': `backtest-${name}`,
          ...(attrs as Record<string, string>),
        });
    const data = input('data', 'data file', 'data file in --data-dir, e.g. eurusd-ticks.csv', {
      required: 'required',
    });
    const symbol = input('symbol', 'symbol', 'symbol (from the file name if empty)');
    const strategy = h(
        'select', {name: 'strategy', 'aria-label': 'strategy', 'data-testid': 'backtest-strategy'},
        ...kStrategies.map((s) => h('option', {value: s}, s)));
    const params = input('params', 'parameters', 'params, e.g. fast=10,slow=30');
    const from = input('from', 'from', 'from (UTC time), e.g. 2020-01-01T18:00:00Z');
    const to = input('to', 'to', 'to (UTC time)');
    const cash = input('cash', 'cash', 'cash (default 100000)', {inputmode: 'decimal'});
    const error = h('div', {class: 'error', 'data-testid': 'backtest-error', role: 'alert'});
    const submit =
        h('button', {type: 'submit', class: 'ok', 'data-testid': 'backtest-submit'}, 'Run');
    const form =
        h('form', {class: 'controls job-form', 'data-testid': 'backtest-form'},
          h('h3', {}, 'New backtest'), data, symbol, strategy, params,
          h('div', {class: 'buttons'}, from, to, cash), submit, error);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      replace(error);
      const body: Json = {data: data.value.trim(), strategy: strategy.value};
      try {
        if (symbol.value.trim() !== '') body['symbol'] = symbol.value.trim();
        if (params.value.trim() !== '') body['params'] = parseParams(params.value);
        if (from.value.trim() !== '') body['from'] = from.value.trim();
        if (to.value.trim() !== '') body['to'] = to.value.trim();
        if (cash.value.trim() !== '') {
          const c = Number(cash.value.trim());
          if (!Number.isFinite(c)) throw new Error('cash: a number is required');
          body['cash'] = c;
        }
      } catch (e) {
        replace(error, (e as Error).message);
        return;
      }
      submit.disabled = true;
      // The API checks every field (a file outside --data-dir, a bad time): its 400 is shown.
      this.api.post<Job>('/api/v1/backtests', body)
          .then((job) => {
            window.location.hash = `#backtests/${job.id}`;
          })
          .catch((e: unknown) => replace(error, errorText(e)))
          .finally(() => {
            submit.disabled = false;
          });
    });
    return form;
  }

  private async showJob(id: number): Promise<Job|null> {
    let job: Job;
    try {
      job = await this.api.get<Job>(`/api/v1/backtests/${id}`);
    } catch (e) {
      replace(this.detail, h('div', {class: 'error'}, errorText(e)));
      return null;
    }
    if (this.shown !== id) return null;  // another job was picked meanwhile
    if (job.state === 'done' && this.reportShown === id) return job;  // already drawn, final
    const facts: [string, unknown][] = [
      ['state', job.state], ['by', job.by], ['submitted', time(job.submitted_at)],
      ['started', time(job.started_at)], ['finished', time(job.finished_at)],
      ['events read', job.count], ['request', job.request]
    ];
    if (job.exit_code !== undefined) facts.push(['exit code', job.exit_code]);
    const parts: HTMLElement[] = [
      h('h3', {}, `Backtest ${job.id} `,
        h('span', {class: `badge job-${job.state}`, 'data-testid': 'backtest-state'}, job.state)),
      progressBar(job, 'backtest-progress'),
      kv(facts, 'backtest-facts'),
    ];
    if (job.error !== undefined) {
      parts.push(h('div', {class: 'error', 'data-testid': 'backtest-job-error'}, job.error));
    }
    if (this.canRun && active(job)) parts.push(this.cancelButton(job));
    replace(this.detail, ...parts);
    if (job.state === 'done' && job.has_result) {
      this.reportShown = id;
      await this.showReport(job);
    }
    return job;
  }

  private cancelButton(job: Job): HTMLElement {
    const error = h('div', {class: 'error', 'data-testid': 'backtest-cancel-error'});
    const button = h('button', {class: 'danger', 'data-testid': 'backtest-cancel'}, 'Cancel');
    button.addEventListener('click', () => {
      button.disabled = true;
      this.api.delete<Job>(`/api/v1/backtests/${job.id}`)
          .then(() => this.refresh())
          .catch((e: unknown) => {
            button.disabled = false;
            replace(error, errorText(e));
          });
    });
    return h('div', {class: 'controls'}, h('div', {class: 'buttons'}, button), error);
  }

  private async showReport(job: Job): Promise<void> {
    let report: Json;
    try {
      report = await this.api.get<Json>(`/api/v1/backtests/${job.id}/report`);
    } catch (e) {
      this.detail.append(h('div', {class: 'error'}, errorText(e)));
      return;
    }
    const metrics = isObject(report['metrics']) ? report['metrics'] : {};
    const account = isObject(report['account']) ? report['account'] : {};
    const run = isObject(report['run']) ? report['run'] : {};
    const headline = new Set(kHeadline.map(([k]) => k));
    const frameBox = h('div', {'data-testid': 'backtest-report-html'});
    const open = h('button', {'data-testid': 'backtest-open-report'}, 'Show the HTML report');
    open.addEventListener('click', () => {
      open.disabled = true;
      // Read with the token like any other answer, then shown through the service worker: no
      // token ever goes into a URL.
      this.api.text(`/api/v1/backtests/${job.id}/report.html`)
          .then((html) => reportFrame(job.id, html))
          .then((frame) => replace(frameBox, frame))
          .catch((e: unknown) => {
            open.disabled = false;
            replace(frameBox, h('div', {class: 'error'}, errorText(e)));
          });
    });
    this.detail.append(
        h('h3', {}, 'Report'),
        h('div', {class: 'cards report-cards', 'data-testid': 'backtest-report'},
          ...kHeadline.map(
              ([key, label, show]) => h(
                  'div', {class: 'card'}, h('div', {class: 'label'}, label),
                  h('div', {class: 'value', 'data-testid': `report-${key}`}, show(metrics[key]))))),
        kv(
            [
              ['initial balance', account['initial_balance']],
              ['final balance', account['final_balance']],
              ['final equity', account['final_equity']],
              ['currency', account['currency']],
              ...Object.entries(metrics).filter(([k]) => !headline.has(k)),
              ['ticks', run['ticks_processed']],
              ['orders', run['orders']],
              ['fills', run['fills']],
              ['wall seconds', run['wall_seconds']],
            ],
            'backtest-metrics'),
        h('div', {class: 'buttons'}, open), frameBox);
  }
}
