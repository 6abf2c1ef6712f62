// The AITS dashboard (docs/api.md, "Dashboard"): login, then three views over the API. Trading:
// the price chart, account, positions, orders and fills, the decision feed with explanations,
// and the risk state with the breaker's controls for traders and admins. Models: the registry
// (models.ts). Backtests: the jobs and their reports (backtests.ts).
import {Api, errorText, type Me, Stream, type StreamMessage} from './api';
import {BacktestsView} from './backtests';
import {type Bar, EquityChart, PriceChart} from './chart';
import {clickableRow, h, num, replace, time} from './dom';
import {renderExplanation} from './explain';
import {ModelsView} from './models';
import {forgetReports} from './report_view';
import {SessionsPanel} from './sessions';

interface Order {
  id: number;
  client_order_id: string;
  symbol: string;
  side: string;
  type: string;
  lots: number;
  price: number|null;
  stop_loss: number|null;
  take_profit: number|null;
  tag: string;
  status: string;
  created: string;
  filled: number;
  avg_fill_price: number|null;
  reject_reason?: string;
  decision?: number;
}

interface Fill {
  id: number;
  order_id: number;
  symbol: string;
  side: string;
  lots: number;
  price: number;
  time: string;
}

interface Position {
  symbol: string;
  lots: string;
  avg_price: string;
  mark?: number;
  unrealized?: number;
  quote_currency?: string;
  [key: string]: unknown;
}

interface Decision {
  decision: number;
  time: string;
  symbol: string;
  action: string;
  reason: string;
  [key: string]: unknown;
}

interface Page<T> {
  items: T[];
}

interface Session {
  id: string;
  events: number;  // the last seq of the log the API has read
  state: string;
  symbols: string[];
  currency: string;
}

// One change of an alert, as GET /api/v1/alerts and the alerts topic give it.
interface Alert {
  status: string;
  alertname: string;
  severity: string;
  summary: string;
  starts_at: string;
  key: string;
}

interface Risk {
  breaker: string;
  breaker_changes: Record<string, unknown>[];
  commands: Record<string, unknown>[];
  limits: unknown;
}

const api = new Api();
const app = document.getElementById('app') as HTMLElement;
let current: Dashboard|null = null;

function showLogin(message = ''): void {
  current?.stop();
  current = null;
  api.logout();
  forgetReports();
  const user = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    'data-testid': 'login-user',
    'aria-label': 'user name',
    placeholder: 'user name',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'login-password',
    'aria-label': 'password',
    placeholder: 'password',
  });
  const error = h('div', {class: 'error', 'data-testid': 'login-error', role: 'alert'}, message);
  const submit =
      h('button', {type: 'submit', class: 'ok', 'data-testid': 'login-submit'}, 'Log in');
  const form = h('form', {class: 'login'}, h('h1', {}, 'AITS'), user, password, submit, error);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(error);
    api.login(user.value, password.value)
        .then(() => api.get<Me>('/api/v1/me'))
        .then((me) => {
          current = new Dashboard(me);
          return current.start();
        })
        .catch((e: unknown) => {
          submit.disabled = false;
          replace(error, errorText(e));
        });
  });
  replace(app, form);
  user.focus();
}

function card(label: string, testid: string): [HTMLElement, HTMLElement] {
  const value = h('div', {class: 'value', 'data-testid': testid}, '—');
  return [h('div', {class: 'card'}, h('div', {class: 'label'}, label), value), value];
}

function signed(value: number|undefined, digits = 2): HTMLElement {
  const cls = value === undefined ? '' : value >= 0 ? 'up' : 'down';
  return h('span', {class: cls}, num(value, digits));
}

class Dashboard {
  private readonly canTrade: boolean;
  private session: Session|null = null;
  private symbol = '';
  private readonly orders = new Map<number, Order>();
  private fills: Fill[] = [];
  private decisions: Decision[] = [];
  private positions: Position[] = [];
  private peak = 0;
  private maxDrawdown = 0;
  private selectedOrder = 0;
  private streams: Stream[] = [];
  private timers: number[] = [];
  private chart: PriceChart|null = null;
  private equityChart: EquityChart|null = null;
  private positionsDirty = false;

  // The page's parts that change.
  private readonly status =
      h('span', {class: 'badge down', 'data-testid': 'stream-status'}, 'connecting');
  private readonly breakerBadge = h('span', {class: 'badge', 'data-testid': 'breaker-state'}, '—');
  private readonly symbolSelect = h('select', {'data-testid': 'symbol', 'aria-label': 'symbol'});
  private readonly lastPrice = h('span', {'data-testid': 'last-price'}, '—');
  private readonly quoteTime = h('span', {class: 'muted', 'data-testid': 'quote-time'});
  private readonly positionsAsOf = h('span', {class: 'muted', 'data-testid': 'positions-as-of'});
  private readonly balance: HTMLElement;
  private readonly equity: HTMLElement;
  private readonly drawdown: HTMLElement;
  private readonly margin: HTMLElement;
  private readonly openPnl: HTMLElement;
  private readonly cards: HTMLElement;
  private readonly positionsBody = h('tbody');
  private readonly ordersBody = h('tbody');
  private readonly fillsBody = h('tbody');
  private readonly decisionsBody = h('tbody');
  private readonly explanation =
      h('div', {'data-testid': 'explanation', class: 'explanation'},
        h('p', {class: 'muted'}, 'Pick an order or a decision to see why it was made.'));
  private readonly riskBody = h('div', {'data-testid': 'risk-details'});
  // The alerts firing now, by their key (docs/api.md, "Alerts"), and the seq of the snapshot
  // they were first read in, from which the alerts' stream starts.
  private readonly firing = new Map<string, Alert>();
  private alertsFrom = 1;
  private readonly alertsBar =
      h('div', {class: 'alerts', 'data-testid': 'alerts', role: 'status', hidden: true});
  private readonly controlsError =
      h('div', {class: 'error', 'data-testid': 'breaker-error', role: 'alert'});
  // The views: which one shows follows the address's fragment (#trading, #models/ID,
  // #backtests/ID), so that the browser's back button and a link to a model work.
  private readonly trading = h('div', {'data-testid': 'view-trading'});
  private readonly models: ModelsView;
  private readonly backtests: BacktestsView;
  private readonly sessions: SessionsPanel;
  private readonly nav = h('nav', {class: 'views', 'aria-label': 'views'});
  private readonly onRoute = () => this.route();

  constructor(private readonly me: Me) {
    this.canTrade = me.role === 'trader' || me.role === 'admin';
    const cards: [HTMLElement, HTMLElement][] = [
      card('Balance', 'account-balance'),
      card('Equity', 'account-equity'),
      card('Open P&L', 'account-open-pnl'),
      card('Drawdown (max)', 'account-drawdown'),
      card('Margin', 'account-margin'),
    ];
    [this.balance, this.equity, this.openPnl, this.drawdown, this.margin] =
        cards.map((c) => c[1]) as [HTMLElement, HTMLElement, HTMLElement, HTMLElement, HTMLElement];
    this.cards = h('div', {class: 'cards'}, ...cards.map((c) => c[0]));
    this.models = new ModelsView(api, me);
    this.backtests = new BacktestsView(api, me);
    this.sessions = new SessionsPanel(api);
  }

  async start(): Promise<void> {
    this.session = await api.get<Session>('/api/v1/session');
    this.symbol = this.session.symbols[0] ?? '';
    this.render();
    await Promise.all([
      this.loadBars(), this.loadOrders(), this.loadFills(), this.loadDecisions(),
      this.loadPositions(), this.loadRisk(), this.loadAccount(), this.loadAlerts(),
      this.sessions.load()
    ]);
    // The account's checkpoints from the start of what the API keeps: the equity curve and its
    // peak, hence the drawdown. The rest from the seq the session was read at before the loads
    // above, so that nothing falls between them and the stream; what both hold is merged by id.
    this.streams.push(new Stream(api, ['account'], (m) => this.onMessage(m), () => {}, 1));
    this.streams.push(new Stream(
        api, ['quotes', 'bars', 'orders', 'fills', 'decisions', 'risk'], (m) => this.onMessage(m),
        (live, why) => this.setStatus(live, why), this.session.events + 1));
    // Alerts from the seq of their snapshot: no change made after it is missed, whatever the
    // log's seq was when the page read the session.
    this.streams.push(new Stream(api, ['alerts'], (m) => this.onMessage(m), () => {},
                                 this.alertsFrom));
    for (const s of this.streams) s.start();
    window.addEventListener('hashchange', this.onRoute);
    this.route();
    // Positions' marks and P&L move with every quote; the API computes them (it knows the
    // contract sizes), so they are read again at most once a second while they change.
    this.timers.push(window.setInterval(() => {
      if (this.positionsDirty) {
        this.positionsDirty = false;
        this.loadPositions().catch((e: unknown) => {
          // The API is away (a restart, the network): read them again at the next tick.
          this.positionsDirty = true;
          this.status.title = errorText(e);
        });
      }
    }, 1000));
    // Started sessions change state on their own (a run ends, a trader stops one): a light read
    // every 5 seconds.
    this.timers.push(window.setInterval(() => void this.sessions.load(), 5000));
  }

  stop(): void {
    window.removeEventListener('hashchange', this.onRoute);
    this.backtests.stop();
    for (const s of this.streams) s.stop();
    for (const t of this.timers) window.clearInterval(t);
    this.chart?.remove();
    this.equityChart?.remove();
  }

  // Shows the view the fragment names (the trading view for any other).
  private route(): void {
    const [name = '', id = ''] = window.location.hash.replace(/^#/, '').split('/');
    const views: [string, string, HTMLElement][] = [
      ['trading', 'Trading', this.trading],
      ['models', 'Models', this.models.element],
      ['backtests', 'Backtests', this.backtests.element],
    ];
    const shown = views.some(([v]) => v === name) ? name : 'trading';
    replace(this.nav, ...views.map(([v, label, element]) => {
      element.hidden = v !== shown;
      return h(
          'a', {
            href: `#${v}`,
            'data-testid': `nav-${v}`,
            class: v === shown ? 'current' : '',
            'aria-current': v === shown ? 'page' : false,
          },
          label);
    }));
    const selected = /^\d+$/.test(id) ? Number(id) : 0;
    if (shown !== 'backtests') this.backtests.stop();
    if (shown === 'models') void this.models.show(selected);
    if (shown === 'backtests') void this.backtests.show(selected);
  }

  private setStatus(live: boolean, why: string): void {
    this.status.className = `badge ${live ? 'live' : 'down'}`;
    replace(this.status, live ? 'live' : 'offline');
    this.status.title = why;
  }

  private render(): void {
    const session = this.session as Session;
    for (const s of session.symbols) this.symbolSelect.append(h('option', {value: s}, s));
    this.symbolSelect.addEventListener('change', () => {
      this.symbol = this.symbolSelect.value;
      this.loadBars().catch((e: unknown) => {
        this.status.title = errorText(e);
      });
    });
    const logout = h('button', {'data-testid': 'logout'}, 'Log out');
    logout.addEventListener('click', () => showLogin());
    const header =
        h('header', {class: 'top'}, h('span', {class: 'brand'}, 'AITS'),
          h('span', {'data-testid': 'session'}, `session ${session.id}`),
          h('span', {class: 'muted'}, session.state), this.status, this.nav,
          h('span', {}, 'breaker ', this.breakerBadge), h('span', {class: 'spacer'}),
          h('span', {'data-testid': 'whoami'}, `${this.me.subject} (${this.me.role})`), logout);

    const chartBox = h('div', {class: 'chart', 'data-testid': 'price-chart'});
    const equityBox = h('div', {class: 'chart small', 'data-testid': 'equity-chart'});
    const table = (body: HTMLElement, testid: string, ...heads: string[]) =>
        h('div', {class: 'scroll'},
          h('table', {'data-testid': testid},
            h('thead', {}, h('tr', {}, ...heads.map((x) => h('th', {}, x)))), body));

    const risk =
        h('section', {class: 'panel', 'data-testid': 'risk-panel'}, h('h2', {}, 'Risk'),
          this.riskBody);
    if (this.canTrade) risk.append(this.breakerControls());

    replace(
        this.trading, this.cards,
        h('div', {class: 'grid'},
          h('section', {class: 'panel'},
            h('h2', {}, 'Price', this.symbolSelect, this.lastPrice, h('span', {class: 'spacer'}),
              this.quoteTime),
            chartBox),
          h('section', {class: 'panel'}, h('h2', {}, 'Explanation'), this.explanation),
          h('section', {class: 'panel'},
            h('h2', {}, 'Positions', h('span', {class: 'spacer'}), this.positionsAsOf),
            table(
                this.positionsBody, 'positions', 'symbol', 'lots', 'avg', 'mark', 'P&L', 'SL',
                'TP')),
          risk,
          h('section', {class: 'panel'}, h('h2', {}, 'Orders'),
            table(
                this.ordersBody, 'orders', 'id', 'time', 'symbol', 'side', 'lots', 'type', 'status',
                'fill', 'P&L', 'tag')),
          h('section', {class: 'panel'}, h('h2', {}, 'Equity'), equityBox),
          h('section', {class: 'panel'}, h('h2', {}, 'Decisions'),
            table(this.decisionsBody, 'decisions', '#', 'time', 'symbol', 'action', 'reason')),
          h('section', {class: 'panel'}, h('h2', {}, 'Fills'),
            table(this.fillsBody, 'fills', 'id', 'time', 'symbol', 'side', 'lots', 'price')),
          this.sessions.element));
    replace(
        app, header, this.alertsBar, this.trading, this.models.element, this.backtests.element,
        // The notice lightweight-charts' licence asks for, with its link.
        h('footer', {class: 'muted'},
          'Charts: TradingView Lightweight Charts™, ' +
              'Copyright (c) TradingView, Inc. ',
          h('a',
            {href: 'https://www.tradingview.com/', target: '_blank', rel: 'noopener noreferrer'},
            'https://www.tradingview.com/')));
    this.chart = new PriceChart(chartBox);
    this.equityChart = new EquityChart(equityBox);
  }

  private breakerControls(): HTMLElement {
    const reason = h('input', {
      'data-testid': 'breaker-reason',
      'aria-label': 'reason',
      placeholder: 'reason (goes into the log)',
      maxlength: '500',
    });
    const move = (state: string) => {
      replace(this.controlsError);
      if (reason.value.trim() === '') {
        replace(this.controlsError, 'A reason is required: it goes into the session\'s log.');
        return;
      }
      api.post('/api/v1/risk/breaker', {state, reason: reason.value.trim()})
          .then(() => {
            replace(
                this.controlsError,
                h('span', {class: 'muted'},
                  `${state} queued; the session applies it within a ` +
                      'second'));
            reason.value = '';
          })
          .catch((e: unknown) => replace(this.controlsError, errorText(e)));
    };
    const button = (state: string, label: string, cls: string, testid: string) => {
      const b = h('button', {class: cls, 'data-testid': testid}, label);
      b.addEventListener('click', () => move(state));
      return b;
    };
    return h(
        'div', {class: 'controls', 'data-testid': 'breaker-controls'}, reason,
        h('div', {class: 'buttons'}, button('halted', 'Halt', 'danger', 'breaker-halt'),
          button('reduce_only', 'Reduce only', 'warn', 'breaker-reduce-only'),
          button('normal', 'Resume', 'ok', 'breaker-resume')),
        this.controlsError);
  }

  // Loading what the REST API has now.

  private async loadBars(): Promise<void> {
    if (this.symbol === '' || this.chart === null) return;
    const bars = await api.get<Page<Bar>>(
        `/api/v1/market/bars?symbol=${encodeURIComponent(this.symbol)}&limit=500`);
    this.chart.setBars(bars.items);
    this.drawFillsAndLevels();
  }

  private async loadOrders(): Promise<void> {
    const page = await api.get<Page<Order>>('/api/v1/orders?limit=100');
    for (const o of page.items) this.orders.set(o.id, o);
    this.drawOrders();
  }

  private async loadFills(): Promise<void> {
    const page = await api.get<Page<Fill>>('/api/v1/trades?limit=200');
    this.fills = page.items;
    this.drawFills();
  }

  private async loadDecisions(): Promise<void> {
    const page = await api.get<Page<Decision>>('/api/v1/decisions?limit=100');
    this.decisions = page.items;
    this.drawDecisions();
  }

  private async loadPositions(): Promise<void> {
    const page = await api.get<Page<Position>&{as_of: string | null}>('/api/v1/positions');
    this.positions = page.items;
    // The session's last account checkpoint (aits paper --checkpoint-every): the positions are
    // its, their marks and P&L the last quote's.
    replace(
        this.positionsAsOf,
        page.as_of === null ? 'no checkpoint yet' : `as of ${time(page.as_of)}`);
    this.drawPositions();
  }

  private async loadRisk(): Promise<void> {
    this.drawRisk(await api.get<Risk>('/api/v1/risk'));
  }

  private async loadAccount(): Promise<void> {
    const account = await api.get<Record<string, unknown>>('/api/v1/account');
    this.drawAccount(account, false);
  }

  // The stream.

  private onMessage(m: StreamMessage): void {
    const data = m.data;
    switch (m.topic) {
      case 'quotes': {
        if (m.symbol !== this.symbol) break;
        const bid = Number(data['bid']);
        const ask = Number(data['ask']);
        const t = String(data['time']);
        replace(this.lastPrice, `${num(bid, 5)} / ${num(ask, 5)}`);
        replace(this.quoteTime, time(t));
        this.chart?.quote(t, (bid + ask) / 2);
        if (this.positions.some((p) => p.symbol === m.symbol)) this.positionsDirty = true;
        break;
      }
      case 'bars':
        if (m.symbol === this.symbol) this.chart?.closeBar(data as unknown as Bar);
        break;
      case 'orders': {
        const order = data as unknown as Order;
        this.orders.set(order.id, order);
        this.drawOrders();
        if (order.id === this.selectedOrder) void this.showOrder(order.id);
        break;
      }
      case 'fills':
        if (this.fills.some((f) => f.id === data['id'])) break;
        this.fills.unshift(data as unknown as Fill);
        this.drawFills();
        this.positionsDirty = true;
        break;
      case 'decisions': {
        if (this.decisions.some((d) => d.decision === data['decision'])) break;
        this.decisions.unshift(data as unknown as Decision);
        if (this.decisions.length > 200) this.decisions.pop();
        this.drawDecisions();
        // The log may hold an order before the decision record that explains it: an order
        // shown without its explanation gets it now.
        const made = Array.isArray(data['orders']) ? data['orders'] : [data['order']];
        if (made.some((o) => (o as {id?: number} | undefined)?.id === this.selectedOrder)) {
          void this.showOrder(this.selectedOrder);
        }
        break;
      }
      case 'account':
        this.drawAccount(data, true);
        if (Array.isArray(data['positions'])) this.positionsDirty = true;
        break;
      case 'risk':
        this.loadRisk().catch((e: unknown) => {
          this.status.title = errorText(e);
        });
        break;
      case 'alerts':
        this.noteAlert(data as unknown as Alert);
        this.drawAlerts();
        break;
    }
  }

  private async loadAlerts(): Promise<void> {
    const alerts = await api.get<{seq: number, firing: Alert[]}>('/api/v1/alerts');
    this.alertsFrom = Math.max(alerts.seq, 1);
    for (const alert of alerts.firing) this.noteAlert(alert);
    this.drawAlerts();
  }

  // A resolution ends the firing of the same start only, as the API's does.
  private noteAlert(alert: Alert): void {
    if (alert.status === 'firing') {
      this.firing.set(alert.key, alert);
    } else if (this.firing.get(alert.key)?.starts_at === alert.starts_at) {
      this.firing.delete(alert.key);
    }
  }

  private drawAlerts(): void {
    this.alertsBar.hidden = this.firing.size === 0;
    replace(this.alertsBar, ...[...this.firing.values()].map((a) => h(
        'div', {class: `alert ${a.severity}`, 'data-testid': 'alert', title: a.starts_at},
        h('strong', {}, a.alertname), a.severity ? ` (${a.severity})` : '',
        a.summary ? `: ${a.summary}` : '')));
  }

  // Drawing.

  // `checkpoint`: one of the account stream's, in the log's order (the curve and the drawdown are
  // drawn from those alone: the REST answer, the newest, comes before the replay of the older
  // ones and would put a later peak before them). The breaker comes from the risk topic only: a
  // replayed checkpoint holds the breaker of its time.
  private drawAccount(account: Record<string, unknown>, checkpoint: boolean): void {
    const equity = Number(account['equity']);
    replace(this.balance, `${num(account['balance'])} ${this.session?.currency ?? ''}`);
    replace(this.equity, num(equity));
    replace(this.margin, num(account['margin']));
    if (!checkpoint || !Number.isFinite(equity) || !(equity > 0)) return;
    this.peak = Math.max(this.peak, equity);
    const dd = (this.peak - equity) / this.peak;
    this.maxDrawdown = Math.max(this.maxDrawdown, dd);
    replace(this.drawdown, `${(dd * 100).toFixed(2)}% (${(this.maxDrawdown * 100).toFixed(2)}%)`);
    if (typeof account['time'] === 'string') this.equityChart?.add(account['time'], equity);
  }

  private setBreaker(state: string): void {
    this.breakerBadge.className = `badge ${state}`;
    replace(this.breakerBadge, state);
  }

  private drawPositions(): void {
    let open = 0;
    replace(this.positionsBody, ...this.positions.map((p) => {
      open += p.unrealized ?? 0;
      const levels = this.levelsOf(p.symbol);
      return h(
          'tr', {'data-testid': `position-${p.symbol}`}, h('td', {}, p.symbol),
          h('td', {}, num(p.lots)), h('td', {}, num(p.avg_price, 5)), h('td', {}, num(p.mark, 5)),
          h('td', {'data-testid': 'position-pnl'}, signed(p.unrealized),
            ` ${p.quote_currency ?? ''}`),
          h('td', {}, num(levels.stopLoss, 5)), h('td', {}, num(levels.takeProfit, 5)));
    }));
    if (this.positions.length === 0) {
      this.positionsBody.append(h('tr', {}, h('td', {colspan: '7', class: 'muted'}, 'flat')));
    }
    replace(this.openPnl, signed(open));
    this.drawFillsAndLevels();
    this.drawOrders();
  }

  // The open position's stop loss and take profit: those of the last filled order of the symbol
  // that carried them (the position's own record has no levels).
  private levelsOf(symbol: string): {stopLoss: number|null; takeProfit: number | null} {
    const sorted = [...this.orders.values()]
                       .filter((o) => o.symbol === symbol && o.status === 'filled')
                       .sort((a, b) => b.id - a.id);
    const last = sorted.find((o) => o.stop_loss !== null || o.take_profit !== null);
    return {stopLoss: last?.stop_loss ?? null, takeProfit: last?.take_profit ?? null};
  }

  private drawFillsAndLevels(): void {
    if (this.chart === null) return;
    this.chart.setFills(this.fills.filter((f) => f.symbol === this.symbol));
    const position = this.positions.find((p) => p.symbol === this.symbol);
    const levels = position ? this.levelsOf(this.symbol) : {stopLoss: null, takeProfit: null};
    this.chart.setLevels({
      entry: position ? Number(position.avg_price) : null,
      stopLoss: levels.stopLoss,
      takeProfit: levels.takeProfit,
    });
  }

  private drawFills(): void {
    replace(
        this.fillsBody,
        ...this.fills.slice(0, 100).map(
            (f) => h(
                'tr', {'data-testid': `fill-${f.id}`}, h('td', {}, f.id), h('td', {}, time(f.time)),
                h('td', {}, f.symbol), h('td', {class: f.side === 'buy' ? 'up' : 'down'}, f.side),
                h('td', {}, num(f.lots)), h('td', {}, num(f.price, 5)))));
    this.drawFillsAndLevels();
  }

  // The P&L of `lots` of an order still open: against the mark of its symbol's position, at the
  // value per price unit and lot the API's own P&L of that position implies (contract size; the
  // page has no instrument table). None while the mark is at the average price.
  private orderPnl(o: Order, lots: number): number|undefined {
    if (o.avg_fill_price === null) return undefined;
    const p = this.positions.find((x) => x.symbol === o.symbol);
    if (p === undefined || p.mark === undefined || p.unrealized === undefined) return undefined;
    const size = Number(p.lots);
    const move = p.mark - Number(p.avg_price);
    if (size === 0 || move === 0) return undefined;
    const perLot = p.unrealized / (move * size);
    return (p.mark - o.avg_fill_price) * (o.side === 'buy' ? 1 : -1) * lots * perLot;
  }

  private drawOrders(): void {
    const rows = [...this.orders.values()].sort((a, b) => b.id - a.id).slice(0, 100);
    const open = this.openLots();
    replace(
        this.ordersBody,
        ...rows.map(
            (o) => clickableRow(
                {'data-testid': `order-${o.id}`, 'data-status': o.status},
                o.id === this.selectedOrder, () => void this.showOrder(o.id), h('td', {}, o.id),
                h('td', {}, time(o.created)), h('td', {}, o.symbol),
                h('td', {class: o.side === 'buy' ? 'up' : 'down'}, o.side),
                h('td', {}, num(o.lots)), h('td', {}, o.type), h('td', {}, o.status),
                h('td', {}, o.avg_fill_price === null ? '—' : num(o.avg_fill_price, 5)),
                h('td', {}, open.has(o.id) ? signed(this.orderPnl(o, open.get(o.id) ?? 0)) : '—'),
                h('td', {}, o.tag))));
  }

  // The filled orders that built each symbol's open position, with the lots of each still in it:
  // the newest fills on the position's side back to where its size is covered (netting).
  private openLots(): Map<number, number> {
    const out = new Map<number, number>();
    for (const p of this.positions) {
      let need = Math.abs(Number(p.lots));
      const side = Number(p.lots) > 0 ? 'buy' : 'sell';
      const filled =
          [...this.orders.values()]
              .filter((o) => o.symbol === p.symbol && o.status === 'filled' && o.side === side)
              .sort((a, b) => b.id - a.id);
      for (const o of filled) {
        if (need <= 1e-9) break;
        out.set(o.id, Math.min(need, o.filled));
        need -= o.filled;
      }
    }
    return out;
  }

  private drawDecisions(): void {
    replace(this.decisionsBody, ...this.decisions.slice(0, 100).map((d) => {
      const row =
          h('tr', {class: 'clickable', 'data-testid': `decision-${d.decision}`, tabindex: '0'},
            h('td', {}, d.decision), h('td', {}, time(d.time)), h('td', {}, d.symbol),
            h('td', {}, d.action), h('td', {}, d.reason));
      row.addEventListener('click', () => void this.showDecision(d.decision));
      return row;
    }));
  }

  private async showOrder(id: number): Promise<void> {
    this.selectedOrder = id;
    this.drawOrders();
    await this.explain(`/api/v1/orders/${id}`, 'order');
  }

  private async showDecision(id: number): Promise<void> {
    this.selectedOrder = 0;
    this.drawOrders();
    await this.explain(`/api/v1/decisions/${id}`, 'decision');
  }

  private async explain(path: string, what: 'order'|'decision'): Promise<void> {
    try {
      replace(
          this.explanation, renderExplanation(await api.get<Record<string, unknown>>(path), what));
    } catch (e) {
      replace(this.explanation, h('div', {class: 'error'}, errorText(e)));
    }
  }

  private drawRisk(risk: Risk): void {
    this.setBreaker(risk.breaker);
    const changes = risk.breaker_changes.slice(-5).reverse();
    const commands = risk.commands.slice(-5).reverse();
    replace(
        this.riskBody,
        h('dl', {class: 'kv'}, h('dt', {}, 'breaker'),
          h('dd', {'data-testid': 'risk-breaker'}, risk.breaker)),
        h('h3', {}, 'Breaker changes'),
        changes.length === 0 ?
            h('p', {class: 'muted'}, 'none') :
            h('ul', {'data-testid': 'breaker-changes'},
              ...changes.map(
                  (c) =>
                      h('li', {},
                        `${time(c['time'])}: ${String(c['from'] ?? '')} → ` +
                            `${String(c['to'] ?? '')} ${String(c['reason'] ?? '')}`))),
        h('h3', {}, 'Commands applied'),
        commands.length === 0 ? h('p', {class: 'muted'}, 'none') :
                                h('ul', {'data-testid': 'risk-commands'},
                                  ...commands.map(
                                      (c) =>
                                          h('li', {},
                                            `${String(c['command'] ?? '')} ` +
                                                `${String(c['state'] ?? '')} by ` +
                                                `${String(c['by'] ?? '?')}: ` +
                                                `${String(c['reason'] ?? '')}`))),
        h('h3', {}, 'Limits'), renderLimits(risk.limits));
  }
}

// The session's risk settings: [[name, value], ...] as its spec keeps them (an object is read
// the same way).
function renderLimits(limits: unknown): HTMLElement {
  const pairs: [string, unknown][] = Array.isArray(limits) ?
      limits.filter((p): p is[string, unknown] => Array.isArray(p) && p.length === 2)
          .map((p) => [String(p[0]), p[1]]) :
      typeof limits === 'object' && limits !== null ? Object.entries(limits) :
                                                      [];
  if (pairs.length === 0) return h('p', {class: 'muted'}, 'the built-in defaults');
  return h(
      'dl', {class: 'kv', 'data-testid': 'risk-limits'},
      ...pairs.flatMap(
          ([k, v]) =>
              [h('dt', {}, k),
               h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)),
  ]));
}

showLogin();
