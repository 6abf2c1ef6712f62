// The sessions panel (docs/api.md, "Sessions"): the session this server shows, and the paper
// sessions started through the API with their state. It only reads: starting and stopping stay
// with the API and the command line.
import {type Api, errorText} from './api';
import {h, type Json, replace, time, value} from './dom';

interface Started {
  id: number;
  state: string;
  by: string;
  request: Json;
  submitted_at: string|null;
  finished_at: string|null;
  error?: string;
}

interface Sessions {
  served: Json;
  items: Started[];
}

// What a started session runs: its feed (synthetic unless a file) and its symbols.
function feedOf(request: Json): string {
  const symbols = Array.isArray(request['synthetic']) ? request['synthetic'].map(value).join(',') :
                                                        value(request['symbol'] ?? '');
  return `${value(request['feed'] ?? 'synthetic')} ${symbols}`.trim();
}

export class SessionsPanel {
  readonly element: HTMLElement;
  private readonly served = h('p', {'data-testid': 'sessions-served'});
  private readonly body = h('tbody');
  private readonly error = h('div', {class: 'error', 'data-testid': 'sessions-error'});

  constructor(private readonly api: Api) {
    this.element =
        h('section', {class: 'panel', 'data-testid': 'sessions-panel'}, h('h2', {}, 'Sessions'),
          this.served, this.error,
          h('div', {class: 'scroll'},
            h('table', {'data-testid': 'sessions'},
              h('thead', {},
                h('tr', {},
                  ...['id', 'state', 'feed', 'by', 'started', 'ended'].map((x) => h('th', {}, x)))),
              this.body)));
  }

  async load(): Promise<void> {
    let sessions: Sessions;
    try {
      sessions = await this.api.get<Sessions>('/api/v1/sessions?limit=20');
    } catch (e) {
      replace(this.error, errorText(e));
      return;
    }
    replace(this.error);
    const s = sessions.served;
    const symbols = Array.isArray(s['symbols']) ? s['symbols'].map(value).join(', ') : '';
    replace(
        this.served, 'shown here: ', h('strong', {}, value(s['id'])),
        ` (${value(s['state'])}${symbols === '' ? '' : ', ' + symbols})`);
    replace(
        this.body,
        ...sessions.items.map(
            (x) =>
                h('tr', {'data-testid': `session-${x.id}`, 'data-state': x.state},
                  h('td', {}, x.id), h('td', {title: x.error ?? ''}, x.state),
                  h('td', {}, feedOf(x.request)), h('td', {}, x.by),
                  h('td', {}, time(x.submitted_at)), h('td', {}, time(x.finished_at)))));
    if (sessions.items.length === 0) {
      this.body.append(
          h('tr', {}, h('td', {colspan: '6', class: 'muted'}, 'none started through the API')));
    }
  }
}
