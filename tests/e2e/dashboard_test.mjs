#!/usr/bin/env node
// End-to-end test of the web dashboard (docs/api.md, "Dashboard") in headless Chromium, driven
// by playwright-core (web/node_modules) against Debian's /usr/bin/chromium.
//
// Sets up an auth store with a trader and a viewer, runs `aits paper --speed 1` (a synthetic
// market on S1 bars, so that it trades within seconds, and an account checkpoint every 20
// ticks) and `aits api serve --web BUNDLE` over its state directory, then, in the browser:
// - the trader logs in and sees live prices and a fill arrive, and the open position's entry,
//   SL and TP; the API restarts on its port and the page reconnects, resuming its stream;
// - opens a filled order's explanation: model scores, regime, filters, sizing, risk checks;
// - halts the breaker from the page with a reason; the API (GET /api/v1/risk) and the
//   session's own event log show that the running session applied it, by that trader;
// - the page at phone width (375 x 812) fits the screen;
// - the viewer logs in and finds no trading controls.
// No CSP violation or script error may occur. Screenshots go to ARTIFACT_DIR.
//
// Usage: node dashboard_test.mjs AITS_BINARY WEB_SOURCE_DIR WEB_BUNDLE_DIR ARTIFACT_DIR
import {execFileSync} from 'node:child_process';
import {existsSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

import {apiGet, apiLogin, authStore, check, launchChromium, login, newPage, processes, runScenario, sleep, text, until} from './dashboard_lib.mjs';

const [aits, webSource, webBundle, artifacts] = process.argv.slice(2);
if (!artifacts) {
  console.error('usage: dashboard_test.mjs AITS_BINARY WEB_SOURCE_DIR WEB_BUNDLE_DIR ARTIFACT_DIR');
  process.exit(2);
}
const {run, start, stop, killAll, serve} = processes(aits);

// The session's log, read with Python's sqlite3 (a test dependency already; node 20 has no
// SQLite of its own): the payloads of one event type.
function eventPayloads(state, type) {
  const script = 'import sqlite3,sys,json\n' +
      'db=sqlite3.connect(f"file:{sys.argv[1]}/events.db?mode=ro",uri=True)\n' +
      'print(json.dumps([bytes(r[0]).decode(errors="replace") for r in ' +
      'db.execute("SELECT payload FROM events WHERE type=?",(int(sys.argv[2]),))]))';
  return JSON.parse(
      execFileSync('python3', ['-c', script, state, String(type)], {encoding: 'utf8'}));
}


async function scenario(work, keepBrowser) {
  const auth = authStore(run, work);

  // Stops and targets far enough from the price that the venue takes them on S1 bars.
  const config = join(work, 'paper.yaml');
  writeFileSync(config, [
    'decision:',
    '  buy_threshold: 0.1',
    '  sell_threshold: -0.1',
    '  close_threshold: 0.05',
    '  min_confidence: 0.0',
    '  max_spread_points: 30',
    '  sizing: fixed_fraction',
    '  risk_fraction: 0.005',
    '  stop_atr: 30',
    '  take_profit_atr: 45',
    '  atr_period: 5',
    'risk:',
    '  base: defaults',
    '  max_order_lots: 10',
    '  max_position_lots: 20',
    '',
  ].join('\n'));
  const state = join(work, 's');
  const paper = start([
    'paper', '--speed', '1', '--bar', 'S1', '--params', 'fast=2,slow=5', '--config', config,
    '--start', '2024-01-08T10:00:00Z', '--checkpoint-every', '20', '--state', state, '--session-id',
    'dash', '--quiet'
  ]);
  await until('the session\'s log', () => existsSync(join(state, 'events.db')), 30_000);

  // A --web that is no dashboard is bad input (exit 2) naming the directory, not a silent API.
  const missing = join(work, 'no-such-bundle');
  try {
    run(['api', 'serve', '--state', state, '--listen', '127.0.0.1:0', '--web', missing, ...auth]);
    check('--web naming no directory is refused', false, 'it started');
  } catch (e) {
    check(
        '--web naming no directory is refused: exit 2, naming it',
        e.status === 2 && String(e.stderr).includes(missing), String(e.stderr));
  }

  // `aits api serve` on `listen`; its first line says where (port 0: a free one).
  const startApi = (listen) => serve([
    '--state', state, '--listen', listen, '--web', webBundle,
    // Tokens of 62 s: the page refreshes its token 60 s before the end, so within the test.
    '--access-ttl', '62', ...auth
  ]);
  let {proc: api, started} = await startApi('127.0.0.1:0');
  const base = started.listening;
  check(
      'the API serves the dashboard from --web',
      typeof started.dashboard === 'string' && started.dashboard.length > 0, started);

  const index = await fetch(base + '/');
  const csp = index.headers.get('content-security-policy') ?? '';
  check(
      'the page comes with a self-only Content-Security-Policy and nosniff',
      index.status === 200 && csp.includes('default-src \'self\'') &&
          index.headers.get('x-content-type-options') === 'nosniff',
      csp);

  // Alertmanager's key: the notifier role, which may post alerts and nothing else.
  const notifier = JSON.parse(
      run(['api', 'key', 'create', 'alertmanager', '--role', 'notifier', '--json', ...auth]));
  const roleDown = {name: 'AitsRoleDown', summary: 'the gateway role is down', fp: 'dash0001'};
  const feedStale = {name: 'AitsFeedStale', summary: 'no tick from EURUSD for 30 s', fp: 'dash0002'};
  const postAlert = async (status, alert) => {
    const r = await fetch(base + '/api/v1/alerts/alertmanager', {
      method: 'POST',
      headers: {'X-API-Key': notifier.secret, 'Content-Type': 'application/json'},
      body: JSON.stringify({
        version: '4', status, receiver: 'aits-api', groupKey: '{}', alerts: [{
          status, labels: {alertname: alert.name, severity: 'critical'},
          annotations: {summary: alert.summary}, startsAt: '2026-12-07T09:00:00Z',
          endsAt: '0001-01-01T00:00:00Z', fingerprint: alert.fp
        }]
      }),
    });
    return r.status;
  };
  check('an alert fired before the page opens is taken', (await postAlert('firing', roleDown)) === 200);

  const browser = await launchChromium(webSource);
  keepBrowser(browser);
  const problems = [];

  // The trader.
  const page = await newPage(browser, {width: 1280, height: 1000}, problems, 'trader');
  await login(page, base, 'tom', 'tom-secret');
  check(
      'the trader is logged in, with the role shown',
      (await text(page.getByTestId('whoami'))) === 'tom (trader)');
  await until(
      'the stream to be live',
      async () => (await text(page.getByTestId('stream-status'))) === 'live', 15_000);
  const firstPrice = await until('a first price', async () => {
    const t = await text(page.getByTestId('last-price'));
    return /\d\.\d+ \/ \d\.\d+/.test(t) ? t : null;
  }, 20_000);
  const nextPrice = await until('the price to move', async () => {
    const t = await text(page.getByTestId('last-price'));
    return t !== firstPrice && /\d\.\d+ \/ \d\.\d+/.test(t) ? t : null;
  }, 20_000);
  check(
      'live prices arrive over the stream', nextPrice !== firstPrice,
      `${firstPrice} -> ${nextPrice}`);
  check(
      'the chart is drawn', (await page.getByTestId('price-chart').locator('canvas').count()) > 0);

  // Alerts posted as Alertmanager posts them, with a notifier's key: the one that fired before
  // the page opened is shown from the API's snapshot, the next one from the stream, and both
  // leave the page when they resolve.
  const shownAlerts = async () =>
      (await page.getByTestId('alert').allTextContents()).map((t) => t.trim()).sort();
  const alertsShow = (want) => until(`the alerts ${JSON.stringify(want)} on the page`, async () => {
    const seen = await shownAlerts();
    return JSON.stringify(seen) === JSON.stringify(want) ? seen : null;
  }, 10_000);
  await alertsShow(['AitsRoleDown (critical): the gateway role is down']);
  check('a second alert, fired while the page is open, is taken',
        (await postAlert('firing', feedStale)) === 200);
  await alertsShow([
    'AitsFeedStale (critical): no tick from EURUSD for 30 s',
    'AitsRoleDown (critical): the gateway role is down'
  ]);
  await page.screenshot({path: join(artifacts, 'trader-alert.png'), fullPage: true});
  check('the resolutions are taken',
        (await postAlert('resolved', feedStale)) === 200 &&
            (await postAlert('resolved', roleDown)) === 200);
  await until(
      'the alerts to leave the page',
      async () => (await page.getByTestId('alerts').isHidden()), 10_000);

  // A fill that arrives while the page is open (not one loaded with it).
  const fillIds = async () =>
      (await page.locator('[data-testid^="fill-"]')
           .evaluateAll((rows) => rows.map((r) => Number(r.dataset.testid.slice(5)))));
  const before = Math.max(0, ...(await fillIds()));
  const arrived = await until('a new fill', async () => {
    const ids = (await fillIds()).filter((id) => id > before);
    return ids.length > 0 ? ids : null;
  }, 60_000);
  check('a fill arrives live in the fills table', arrived.length > 0, arrived);
  // Account checkpoints every 20 ticks: the drawdown (drawn from the account stream only) and
  // the positions' time come with the first one.
  await until(
      'an account checkpoint on the page',
      async () => /%/.test(await text(page.getByTestId('account-drawdown'))) &&
          (await text(page.getByTestId('positions-as-of'))).startsWith('as of'),
      45_000);
  check(
      'the account shows equity, drawdown and the positions\' checkpoint time',
      /\d/.test(await text(page.getByTestId('account-equity'))));

  // An open position at a checkpoint: its entry, stop loss and take profit on the chart (the
  // container carries what the canvas draws) and in the positions table.
  const levels = await until('a checkpoint with an open position', async () => {
    const seen = await page.evaluate(() => {
      const chart = document.querySelector('[data-testid="price-chart"]');
      const row = document.querySelector('[data-testid^="position-"]');
      if (!chart || !row || !chart.dataset.stopLoss) return null;
      return {
        markers: Number(chart.dataset.markers),
        entry: chart.dataset.entry,
        stopLoss: chart.dataset.stopLoss,
        takeProfit: chart.dataset.takeProfit,
        row: [...row.querySelectorAll('td')].map((td) => td.textContent),
      };
    });
    return seen;
  }, 90_000);
  const {body: orderPage} = await apiGet(
      base, '/api/v1/orders?limit=100&status=filled', await apiLogin(base, 'vera', 'vera-secret'));
  const slOf = new Set(orderPage.items.map((o) => String(o.stop_loss)));
  const tpOf = new Set(orderPage.items.map((o) => String(o.take_profit)));
  check('the chart marks the fills', levels.markers > 0, levels);
  check(
      'the chart draws the open position\'s entry, SL and TP (those of a filled order)',
      Number(levels.entry) > 0 && slOf.has(levels.stopLoss) && tpOf.has(levels.takeProfit),
      {levels, sl: [...slOf], tp: [...tpOf]});
  check(
      'the positions table shows the same SL and TP',
      Number(levels.row[5]) === Number(levels.stopLoss) &&
          Number(levels.row[6]) === Number(levels.takeProfit) && /\d/.test(levels.row[4]),
      levels);

  // The API restarts on the same port: the page reconnects with the token it holds, resumes the
  // stream from its last seq (the new server replays the log), shows nothing twice, and goes on.
  await stop(api, 'aits api serve (restarted)');
  await until(
      'the page to see the stream gone',
      async () => (await text(page.getByTestId('stream-status'))) === 'offline', 15_000);
  ({proc: api} = await startApi(new URL(base).host));
  await until(
      'the page to reconnect',
      async () => (await text(page.getByTestId('stream-status'))) === 'live', 20_000);
  const priceBefore = await text(page.getByTestId('last-price'));
  await until(
      'the price to move after the reconnect',
      async () => (await text(page.getByTestId('last-price'))) !== priceBefore, 20_000);
  const fillsAfter = await fillIds();
  check(
      'after the reconnect the stream goes on, and no fill is shown twice',
      fillsAfter.length === new Set(fillsAfter).size && fillsAfter.length >= arrived.length,
      fillsAfter);

  // An order's explanation: the newest filled order the strategy made.
  const order = page.locator('[data-testid^="order-"][data-status="filled"]').first();
  await order.waitFor({timeout: 30_000});
  const orderId = (await order.getAttribute('data-testid')).slice(6);
  await order.click();
  const explanation = page.getByTestId('explanation');
  await explanation.getByTestId('explain-order').waitFor({timeout: 10_000});
  // The decision record may reach the log just after its order: the page shows it when it comes.
  await explanation.getByTestId('explain-models').waitFor({timeout: 10_000});
  check(
      `order ${orderId}'s explanation names the order`,
      (await text(explanation.getByTestId('explain-order'))).includes(`Order ${orderId}`));
  const models = await text(explanation.getByTestId('explain-models'));
  check(
      'it shows the model scores', models.includes('sma_fast') && models.includes('sma_slow'),
      models);
  const signal = await text(explanation.getByTestId('explain-signal'));
  check(
      'it shows the regime and the signal',
      signal.includes('regime') && signal.includes('sma_cross'), signal);
  const filters = await text(explanation.getByTestId('explain-filters'));
  check('it shows the filters', filters.includes('spread') && filters.includes('pass'), filters);
  const risk = await text(explanation.getByTestId('explain-risk'));
  check(
      'it shows the risk checks the order passed',
      risk.includes(`order ${orderId}`) && risk.includes('pass'), risk);
  check(
      'it shows the sizing',
      (await text(explanation.getByTestId('explain-sizing'))).includes('fixed_fraction'));
  await page.screenshot({path: join(artifacts, 'trader-explanation.png'), fullPage: true});

  // The breaker, halted from the page.
  const reason = 'dashboard e2e halt';
  check('the trader has the breaker controls', await page.getByTestId('breaker-halt').isVisible());
  await page.getByTestId('breaker-halt').click();
  check(
      'a halt without a reason is refused on the page',
      (await text(page.getByTestId('breaker-error'))).includes('reason'));
  await page.getByTestId('breaker-reason').fill(reason);
  await page.getByTestId('breaker-halt').click();
  await until(
      'the page to show the breaker halted',
      async () => (await text(page.getByTestId('breaker-state'))) === 'halted', 15_000);
  check('the page shows the breaker halted', true);
  const token = await apiLogin(base, 'vera', 'vera-secret');
  const riskNow = await apiGet(base, '/api/v1/risk', token);
  const applied = riskNow.body.commands?.at(-1) ?? {};
  check(
      'GET /api/v1/risk: halted, by tom, with the reason',
      riskNow.body.breaker === 'halted' && applied.by === 'tom' && applied.reason === reason &&
          applied.state === 'halted',
      riskNow.body);
  // Event type 9: the command event the session writes where it applied the command.
  const logged = eventPayloads(state, 9).filter((p) => p.includes(reason));
  check(
      'the session\'s own log holds the applied halt, by tom',
      logged.length === 1 && logged[0].includes('"by":"tom"') && logged[0].includes('halted'),
      logged);
  // Halted: the session sends no new order. Decisions still come (the strategy keeps deciding);
  // any order after the halt would be there with a status.
  const {body: ordersAtHalt} = await apiGet(base, '/api/v1/orders?limit=1', token);
  const lastAtHalt = ordersAtHalt.items[0]?.id ?? 0;
  await sleep(5_000);
  const {body: ordersLater} = await apiGet(base, '/api/v1/orders?limit=20', token);
  const after = ordersLater.items.filter((o) => o.id > lastAtHalt);
  // (The halt's own closing orders, tagged "halt", may fill.)
  check(
      'no new exposure after the halt: no order filled but the halt\'s own',
      after.every((o) => o.status !== 'filled' || o.tag === 'halt'), after);
  await page.screenshot({path: join(artifacts, 'trader-halted.png'), fullPage: true});

  // Phone width.
  const phone = await newPage(browser, {width: 375, height: 812}, problems, 'phone');
  await login(phone, base, 'tom', 'tom-secret');
  await until(
      'the phone page to fill in',
      async () => /\d/.test(await text(phone.getByTestId('last-price'))), 20_000);
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  check('at 375 px nothing overflows sideways', width <= 375, `scrollWidth ${width}`);
  check(
      'at 375 px the breaker controls are on the page',
      (await phone.getByTestId('breaker-halt').count()) === 1);
  await phone.screenshot({path: join(artifacts, 'phone-375.png'), fullPage: true});

  // The viewer: everything to read, nothing to trade with.
  const viewer = await newPage(browser, {width: 1280, height: 1000}, problems, 'viewer');
  await login(viewer, base, 'vera', 'vera-secret');
  check(
      'the viewer is logged in, with the role shown',
      (await text(viewer.getByTestId('whoami'))) === 'vera (viewer)');
  await viewer.getByTestId('risk-panel').waitFor();
  await until(
      'the viewer to see the halted breaker',
      async () => (await text(viewer.getByTestId('breaker-state'))) === 'halted', 10_000);
  for (const id
           of ['breaker-controls', 'breaker-halt', 'breaker-reduce-only', 'breaker-resume',
               'breaker-reason']) {
    check(`the viewer has no ${id}`, (await viewer.getByTestId(id).count()) === 0);
  }
  const buttons = await viewer.locator('button').evaluateAll(
      (all) => all.map((b) => b.dataset.testid ?? b.textContent));
  check(
      'the viewer\'s only button is log out', buttons.length === 1 && buttons[0] === 'logout',
      buttons);
  await viewer.locator('[data-testid^="order-"]').first().click();
  await viewer.getByTestId('explain-order').waitFor({timeout: 10_000});
  check('the viewer can read an order\'s explanation', true);
  await viewer.screenshot({path: join(artifacts, 'viewer.png'), fullPage: true});

  // A wrong password is told on the page.
  const stranger = await newPage(browser, {width: 800, height: 600}, problems, 'stranger');
  await stranger.goto(base + '/');
  await stranger.getByTestId('login-user').fill('vera');
  await stranger.getByTestId('login-password').fill('wrong');
  await stranger.getByTestId('login-submit').click();
  await until(
      'the login error',
      async () =>
          (await text(stranger.getByTestId('login-error'))).includes('wrong user name or password'),
      10_000);
  check('a wrong password is refused with the API\'s message', true);
  // The API's answer to the wrong password is a 400 the browser logs; nothing else may be.
  const unexpected = problems.filter((p) => !(p.startsWith('stranger:') && p.includes('400')));
  check('no script error, no CSP refusal', unexpected.length === 0, unexpected);

  // The pages refreshed their tokens (62 s ones, refreshed a minute before the end) and went on
  // working; each refresh token was used once (a second use would have revoked them all).
  const {body: trail} =
      await apiGet(base, '/api/v1/audit?limit=1000', await apiLogin(base, 'ada', 'ada-secret'));
  const refreshes = trail.items.filter((e) => e.target === 'refresh:tom');
  check(
      'the trader\'s pages refreshed their tokens, each refresh token once',
      refreshes.length > 0 && refreshes.every((e) => e.status === 200),
      refreshes.map((e) => `${e.status} ${e.detail}`));

  await stop(api, 'aits api serve');
  await stop(paper, 'aits paper');
}

await runScenario('dashboard_test', artifacts, killAll, scenario);
