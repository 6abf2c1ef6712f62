// An order's or a decision's explanation, as `aits explain` tells it: the signal with its model
// scores and regime, the top features, the filters, the sizing, and the risk checks of each
// order it made. Sections the record does not hold (a rule signal has no model scores) say so.
import {h, isObject, type Json, kv, time, value} from './dom';

function section(title: string, testid: string, ...body: (HTMLElement|string)[]): HTMLElement {
  return h('section', {'data-testid': testid}, h('h3', {}, title), ...body);
}

function none(text: string): HTMLElement {
  return h('p', {class: 'muted'}, text);
}

function passMark(passed: unknown): HTMLElement {
  return h('span', {class: passed === true ? 'pass' : 'fail'}, passed === true ? 'pass' : 'fail');
}

export function renderDecision(d: Json): HTMLElement[] {
  const signal = isObject(d['signal']) ? d['signal'] : {};
  const models = isObject(signal['models']) ? signal['models'] : null;
  const features = Array.isArray(signal['top_features']) ? (signal['top_features'] as Json[]) : [];
  const filters = Array.isArray(d['filters']) ? (d['filters'] as Json[]) : [];
  const orders = Array.isArray(d['orders']) ? (d['orders'] as Json[]) :
      isObject(d['order'])                  ? [d['order']] :
                                              [];
  const regimeName = typeof signal['regime_name'] === 'string' && signal['regime_name'] !== '' ?
      ` (${signal['regime_name']})` :
      '';
  const out: HTMLElement[] = [
    section('Decision', 'explain-decision', kv([
              ['decision', d['decision']], ['time', time(d['time'])], ['symbol', d['symbol']],
              ['action', d['action']], ['reason', d['reason']]
            ])),
    section('Signal and regime', 'explain-signal', kv([
              ['source', signal['source']], ['strength', signal['strength']],
              ['confidence', signal['confidence']],
              ['regime', `${value(signal['regime'])}${regimeName}`], ['anomaly', signal['anomaly']]
            ])),
    section(
        'Model scores', 'explain-models',
        models === null ? none(`no model scores: the signal is ${value(signal['source'])}`) :
                          kv(Object.entries(models))),
    section(
        'Top features', 'explain-features',
        features.length === 0 ?
            none('no feature attributions in this record') :
            h('table', {},
              h('thead', {},
                h('tr', {}, h('th', {}, 'feature'), h('th', {}, 'value'),
                  h('th', {}, 'contribution'))),
              h('tbody', {},
                ...features.map(
                    (f) =>
                        h('tr', {}, h('td', {}, value(f['name'])), h('td', {}, value(f['value'])),
                          h('td', {}, value(f['contribution']))))))),
    section(
        'Filters', 'explain-filters',
        filters.length === 0 ?
            none('no filters applied') :
            h('table', {},
              h('thead', {},
                h('tr', {}, h('th', {}, 'filter'), h('th', {}, ''), h('th', {}, 'value'),
                  h('th', {}, 'limit'))),
              h('tbody', {},
                ...filters.map(
                    (f) => h(
                        'tr', {}, h('td', {}, value(f['name'])), h('td', {}, passMark(f['passed'])),
                        h('td', {}, value(f['value'])), h('td', {}, value(f['limit']))))))),
    section(
        'Sizing', 'explain-sizing',
        isObject(d['sizing']) ? kv(Object.entries(d['sizing'])) : none('no sizing')),
    section(
        'Risk checks', 'explain-risk',
        orders.length === 0 ? none('no order: nothing reached the risk checks') :
                              h('div', {}, ...orders.map((o) => {
                                const risk = isObject(o['risk']) ? o['risk'] : {};
                                return h(
                                    'p', {},
                                    `order ${value(o['id'])} ${value(o['side'])} ` +
                                        `${value(o['lots'])}: `,
                                    passMark(risk['passed']),
                                    risk['passed'] === true ?
                                        '' :
                                        ` ${value(risk['reason'])} ${value(risk['detail'])}`,
                                    ` → ${value(o['status'])}`);
                              }))),
  ];
  if (isObject(d['market']))
    out.push(section('Market', 'explain-market', kv(Object.entries(d['market']))));
  if (isObject(d['blackout'])) {
    out.push(section('News blackout', 'explain-blackout', kv(Object.entries(d['blackout']))));
  }
  return out;
}

// `what`: an order (GET /orders/{id}, its decision under `explanation`) or a decision record.
export function renderExplanation(record: Json, what: 'order'|'decision'): HTMLElement {
  if (what === 'decision') return h('div', {}, ...renderDecision(record));
  const fills = Array.isArray(record['fills']) ? (record['fills'] as Json[]) : [];
  const parts: HTMLElement[] = [
    section(`Order ${value(record['id'])}`, 'explain-order', kv([
              ['client id', record['client_order_id']], ['symbol', record['symbol']],
              ['side', record['side']], ['type', record['type']], ['lots', record['lots']],
              ['status', record['status']], ['price', record['price']],
              ['stop loss', record['stop_loss']], ['take profit', record['take_profit']],
              ['filled', record['filled']], ['avg fill', record['avg_fill_price']],
              ['tag', record['tag']],
              ...(record['reject_reason'] !== undefined ? [[
                'rejected',
                `${value(record['reject_reason'])}: ` +
                    `${value(record['reject_detail'])}`
              ] as [string, unknown]] :
                                                          [])
            ])),
    section(
        'Fills', 'explain-fills',
        fills.length === 0 ? none('no fills') :
                             h('ul', {},
                               ...fills.map(
                                   (f) =>
                                       h('li', {},
                                         `${time(f['time'])}: ` +
                                             `${value(f['lots'])} @ ` +
                                             `${value(f['price'])}`)))),
  ];
  if (isObject(record['explanation'])) {
    parts.push(...renderDecision(record['explanation']));
  } else {
    parts.push(section(
        'Why', 'explain-decision',
        none(
            record['tag'] === 'manual' ?
                'placed by hand through the API: no decision record' :
                'no decision record for this order (older than those kept)')));
  }
  return h('div', {}, ...parts);
}
