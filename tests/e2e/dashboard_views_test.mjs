#!/usr/bin/env node
// End-to-end test of the dashboard's Models and Backtests views (docs/api.md, "Dashboard") in
// headless Chromium, against `aits api serve --registry DIR --jobs DIR --data-dir DATA`.
//
// The registry is a real one: `aits train` of two small ensembles (no LSTM or GRU, a few trees,
// the first 9,000 GBP/USD minutes; about 2 s each) with a gate no model passes (AUC > 0.99), so
// that both versions are rejected and an admin has something to promote. Then, in the browser:
// - the sessions panel shows the served session and a paper session started through the API;
// - a trader submits a backtest with a file outside the data directory and sees the API's
//   refusal, no job started; then one of eurusd-ticks-2020-01-01.csv (EURUSD, sma_cross), sees
//   its state and progress, then the report's metrics (those of GET .../report), and opens the
//   HTML report in a sandboxed frame of an origin of its own;
// - the trader reads the models list (the API's metrics) and a model's lineage, following its
//   links to a member, back to its ensemble and to the other version; no promote control;
// - an admin promotes: without a reason (the API's refusal), through a gate it fails (verdict
//   shown, as the registry logs it), then through one it passes (now in production);
// - a viewer finds no submit, cancel or promote control;
// - at 375 px wide neither view overflows; an API without --registry and --jobs shows its 503s;
// - no token goes into any URL but the stream's (the API's one way for a WebSocket), and no
//   script error or CSP refusal occurs. Screenshots go to ARTIFACT_DIR.
//
// Usage: node dashboard_views_test.mjs AITS_BINARY WEB_SOURCE_DIR WEB_BUNDLE_DIR ARTIFACT_DIR
//        DATA_DIR
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

import {apiGet, apiLogin, authStore, check, launchChromium, login, newPage, processes, runScenario, sleep, text, until} from './dashboard_lib.mjs';

const [aits, webSource, webBundle, artifacts, data] = process.argv.slice(2);
if (!data) {
  console.error(
      'usage: dashboard_views_test.mjs AITS_BINARY WEB_SOURCE_DIR WEB_BUNDLE_DIR ARTIFACT_DIR ' +
      'DATA_DIR');
  process.exit(2);
}
const {run, stop, killAll, serve} = processes(aits);


// Two versions of a small ensemble, both rejected by the training's gate.
function trainRegistry(work) {
  for (const side of ['bid', 'ask']) {
    const lines = readFileSync(join(data, `gbpusd-m1-${side}-2012.csv`), 'utf8').split('\n');
    writeFileSync(join(work, `gbpusd-m1-${side}.csv`), lines.slice(0, 9000).join('\n') + '\n');
  }
  const config = join(work, 'ml.yaml');
  writeFileSync(config, [
    'data:',
    `  path: ${join(work, 'gbpusd-m1-bid.csv')}`,
    `  ask: ${join(work, 'gbpusd-m1-ask.csv')}`,
    'walk_forward:',
    '  folds: 2',
    'xgboost:',
    '  rounds: 10',
    '  max_depth: 3',
    'xgboost_regressor:',
    '  rounds: 5',
    'random_forest:',
    '  trees: 4',
    '  max_depth: 4',
    'lstm:',
    '  enabled: false',
    'gru:',
    '  enabled: false',
    'anomaly:',
    '  trees: 10',
    'registry:',
    `  dir: ${join(work, 'models')}`,
    '  name: gbp_dash',
    'gate:',
    '  metric: auc',
    '  threshold: 0.99',
    ''
  ].join('\n'));
  const started = Date.now();
  const trained = [1, 2].map(() => JSON.parse(run(['train', '--config', config, '--json'])));
  console.log(`(two trainings in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return trained;
}

async function scenario(work, keepBrowser) {
  const auth = authStore(run, work);
  const trained = trainRegistry(work);
  check(
      'aits train registered two rejected versions of gbp_dash',
      trained.map((t) => `${t.model.name}@${t.model.version} ${t.model.status}`).join() ===
          'gbp_dash@1 rejected,gbp_dash@2 rejected',
      trained.map((t) => t.model));
  // A short finished session: the API shows a session's log, and these views need none running.
  const state = join(work, 's');
  run(['paper', '--ticks', '200', '--speed', 'max', '--state', state, '--quiet']);

  const jobs = join(work, 'jobs');
  const {proc: api, started} = await serve([
    '--state', state, '--listen', '127.0.0.1:0', '--web', webBundle, '--registry',
    join(work, 'models'), '--jobs', jobs, '--data-dir', data, '--sessions', join(work, 'sessions'),
    ...auth
  ]);
  const base = started.listening;
  const {proc: bare, started: bareStarted} =
      await serve(['--state', state, '--listen', '127.0.0.1:0', '--web', webBundle, ...auth]);

  const browser = await launchChromium(webSource);
  keepBrowser(browser);
  const problems = [];
  // Every URL the pages ask for, to find a token in any.
  const urls = [];
  const page = async (viewport, name) => {
    const p = await newPage(browser, viewport, problems, name);
    p.on('request', (r) => urls.push(r.url()));
    return p;
  };
  const viewerToken = await apiLogin(base, 'vera', 'vera-secret');

  // A paper session started through the API, run to its end, for the sessions panel.
  const traderToken = await apiLogin(base, 'tom', 'tom-secret');
  const post = async (path, body) => {
    const r = await fetch(base + path, {
      method: 'POST',
      headers: {Authorization: `Bearer ${traderToken}`, 'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    });
    return {status: r.status, body: await r.json()};
  };
  const {body: session} = await post(
      '/api/v1/sessions', {feed: 'synthetic', ticks: 200, speed: 'max', reason: 'dashboard e2e'});
  const ended = await until('the started session to end', async () => {
    const {body} = await apiGet(base, `/api/v1/sessions/${session.id}`, viewerToken);
    // Queued is not ended either: under load the job may not have started at the first look.
    return body.state !== 'running' && body.state !== 'queued' ? body : null;
  }, 30_000);

  // --- The sessions panel, then backtests, as the trader.
  const trader = await page({width: 1280, height: 1000}, 'trader');
  await login(trader, base, 'tom', 'tom-secret');
  const {body: sessions} = await apiGet(base, '/api/v1/sessions', viewerToken);
  const row = trader.getByTestId(`session-${session.id}`);
  await row.waitFor({timeout: 10_000});
  check(
      'the sessions panel shows the served session and the started one, in its state',
      (await text(trader.getByTestId('sessions-served'))).includes(sessions.served.id) &&
          (await row.getAttribute('data-state')) === ended.state && ended.state === 'done' &&
          (await text(row)).includes('tom'),
      {served: sessions.served, ended, row: await text(row)});
  await trader.getByTestId('nav-backtests').click();
  await trader.getByTestId('backtest-form').waitFor({timeout: 10_000});
  const {body: refusal} =
      await post('/api/v1/backtests', {data: '../x.csv', symbol: 'EURUSD', strategy: 'sma_cross'});
  await trader.getByTestId('backtest-data').fill('../x.csv');
  await trader.getByTestId('backtest-symbol').fill('EURUSD');
  await trader.getByTestId('backtest-strategy').selectOption('sma_cross');
  await trader.getByTestId('backtest-submit').click();
  const shownRefusal = await until('the refusal on the page', async () => {
    const t = await text(trader.getByTestId('backtest-error'));
    return t !== '' ? t : null;
  }, 10_000);
  check(
      'a file outside the data directory: the API\'s 400 message next to the form',
      shownRefusal.includes(refusal.error.message) && shownRefusal.includes('400'),
      {shownRefusal, refusal});
  const {body: noJobs} = await apiGet(base, '/api/v1/backtests', viewerToken);
  check('... and no job was started', noJobs.items.length === 0, noJobs);

  await trader.getByTestId('backtest-data').fill('eurusd-ticks-2020-01-01.csv');
  await trader.getByTestId('backtest-submit').click();
  await until(
      'the new job in the address', async () => /#backtests\/\d+$/.test(trader.url()), 10_000);
  const jobId = Number(trader.url().split('/').at(-1));
  await until(
      'the job to be done on the page',
      async () => (await text(trader.getByTestId('backtest-state'))) === 'done', 30_000);
  const {body: job} = await apiGet(base, `/api/v1/backtests/${jobId}`, viewerToken);
  check(
      'the job ran as submitted, by tom',
      job.state === 'done' && job.by === 'tom' &&
          job.request.data === 'eurusd-ticks-2020-01-01.csv' && job.request.symbol === 'EURUSD' &&
          job.request.strategy === 'sma_cross',
      job);
  // The file is 9,500 ticks: the job ends within milliseconds, before a poll can see it run.
  // The list and the job are read side by side, so the list may show the job running for one
  // more poll (a second) after the job's own read says done: read until both agree, up to 5 s.
  const readBars = () =>
      trader
          .locator(`[data-testid="backtest-progress-${jobId}"], [data-testid="backtest-progress"]`)
          .evaluateAll((all) => all.map((b) => b.value));
  let bars = await readBars();
  for (let i = 0; i < 25 && !(bars.length === 2 && bars.every((v) => v === job.progress)); ++i) {
    await sleep(200);
    bars = await readBars();
  }
  check(
      'the list and the job show its progress as the API has it',
      bars.length === 2 && bars.every((v) => v === job.progress) && job.progress === 1,
      {bars, progress: job.progress});
  check(
      'the job shows the events it read',
      (await text(trader.getByTestId('backtest-facts'))).includes(String(job.count)));
  const {body: report} = await apiGet(base, `/api/v1/backtests/${jobId}/report`, viewerToken);
  const m = report.metrics;
  const shown = async (key) => text(trader.getByTestId(`report-${key}`));
  await trader.getByTestId('backtest-report').waitFor({timeout: 10_000});
  check(
      'the report\'s metrics are those of GET .../report',
      (await shown('net_profit')) === m.net_profit.toFixed(2) &&
          (await shown('trades')) === String(m.trades) &&
          (await shown('win_rate')) === `${(m.win_rate * 100).toFixed(1)}%` &&
          (await shown('max_drawdown')) === `${(m.max_drawdown * 100).toFixed(2)}%` &&
          (await shown('sharpe')) === (m.sharpe === null ? '—' : m.sharpe.toFixed(2)),
      {net: await shown('net_profit'), trades: await shown('trades'), metrics: m});
  check(
      'the other metrics follow',
      (await text(trader.getByTestId('backtest-metrics'))).includes(String(m.total_commission)));

  await trader.getByTestId('backtest-open-report').click();
  const frameEl = trader.getByTestId('backtest-report-frame');
  await frameEl.waitFor({timeout: 10_000});
  const frame = await until(
      'the report in its frame',
      async () => trader.frames().find((f) => f.url().endsWith(`/report-view/${jobId}`)), 10_000);
  const heading = await until(
      'the report\'s heading',
      async () => frame.evaluate(() => document.querySelector('h1')?.textContent ?? ''), 10_000);
  check('the HTML report shows in the page', heading === 'sma_cross on EURUSD', heading);
  const isolation = await frame.evaluate(() => {
    let reachesParent = true;
    try {
      void window.parent.document.body;
    } catch {
      reachesParent = false;
    }
    return {origin: self.origin, reachesParent, styled: document.styleSheets.length > 0};
  });
  check(
      'it runs in an origin of its own (sandboxed), its own styles applied',
      isolation.origin === 'null' && !isolation.reachesParent && isolation.styled, isolation);
  await trader.screenshot({path: join(artifacts, 'backtest-report.png'), fullPage: true});

  // --- Models, as the trader: the list, a detail and its lineage's links.
  const {body: models} = await apiGet(base, '/api/v1/models', viewerToken);
  const ensemble = models.items.find((x) => x.ref === 'gbp_dash@2');
  const older = models.items.find((x) => x.ref === 'gbp_dash@1');
  await trader.getByTestId('nav-models').click();
  await trader.getByTestId(`model-${ensemble.id}`).waitFor({timeout: 10_000});
  check(
      'the list shows every model of the registry',
      (await trader.locator('[data-testid="models"] tbody tr').count()) === models.items.length,
      models.items.length);
  const cells = await trader.getByTestId(`model-${ensemble.id}`).locator('td').allTextContents();
  check(
      'a row: ref, kind, status and validation AUC as the API has them',
      cells[1] === 'gbp_dash@2' && cells[2] === 'ensemble' && cells[3] === 'rejected' &&
          cells[4] === ensemble.metrics.validation.auc.toFixed(3),
      {cells, metrics: ensemble.metrics.validation});
  await trader.getByTestId(`model-${ensemble.id}`).click();
  await until(
      'the ensemble\'s detail',
      async () => (await text(trader.getByTestId('model-ref'))).startsWith('gbp_dash@2'), 10_000);
  const {body: detail} = await apiGet(base, `/api/v1/models/${ensemble.id}`, traderToken);
  const lineage = trader.getByTestId('model-lineage');
  const linked = await lineage.locator('a').allTextContents();
  check(
      'its lineage links its members and its other version',
      detail.lineage.members.length === 4 &&
          detail.lineage.members.every((x) => linked.includes(x.ref)) &&
          linked.includes('gbp_dash@1'),
      {linked, lineage: detail.lineage});
  const events = await text(trader.getByTestId('model-events'));
  check(
      'its history is the registry\'s audit lines',
      detail.events.every((e) => events.includes(e)) && events.includes('reject'), events);
  check(
      'its metrics and parameters are shown',
      (await text(trader.getByTestId('model-metrics'))).includes('auc') &&
          (await text(trader.getByTestId('model-params'))).includes('"rounds": 10'));
  const member = detail.lineage.members[0];
  await lineage.getByTestId(`model-link-${member.id}`).click();
  await until(
      'the member\'s detail',
      async () => (await text(trader.getByTestId('model-ref'))).startsWith(member.ref), 10_000);
  check(
      'a member links back to its ensemble',
      (await text(trader.getByTestId('model-lineage'))).includes('gbp_dash@2'));
  await trader.getByTestId('model-lineage').getByTestId(`model-link-${ensemble.id}`).click();
  await until(
      'back at the ensemble',
      async () => (await text(trader.getByTestId('model-ref'))).startsWith('gbp_dash@2'), 10_000);
  await trader.getByTestId('model-lineage').getByTestId(`model-link-${older.id}`).click();
  await until(
      'the other version',
      async () => (await text(trader.getByTestId('model-ref'))).startsWith('gbp_dash@1'), 10_000);
  check('the lineage\'s links lead to each model', true);
  check(
      'the trader has no promote control',
      (await trader.getByTestId('model-promote').count()) === 0);

  // --- Promotion, as the admin.
  const admin = await page({width: 1280, height: 1000}, 'admin');
  await login(admin, base, 'ada', 'ada-secret');
  await admin.goto(`${base}/#models/${ensemble.id}`);
  await admin.getByTestId('model-promote').waitFor({timeout: 10_000});
  const verdict = admin.getByTestId('promote-verdict');
  await admin.getByTestId('model-promote').click();
  await until('the refusal', async () => (await text(verdict)) !== '', 10_000);
  check(
      'a promotion without a reason: the API\'s refusal',
      (await text(verdict)).includes('reason: a non-empty string is required'),
      await text(verdict));
  await admin.getByTestId('promote-reason').fill('e2e: a gate it cannot pass');
  await admin.getByTestId('promote-threshold').fill('0.99');
  await admin.getByTestId('model-promote').click();
  await until('the failed verdict', async () => (await text(verdict)).startsWith('failed'), 10_000);
  const {body: afterFail} = await apiGet(base, `/api/v1/models/${ensemble.id}`, traderToken);
  const failLine = afterFail.events.at(-1);
  check(
      'a gate it fails: "failed" with the gate\'s words, still rejected',
      afterFail.status === 'rejected' && failLine.includes('reject: ') &&
          (await text(verdict))
              .includes(failLine.split('reject: ')[1].replace(' (stays rejected)', '')),
      {verdict: await text(verdict), failLine});
  await admin.getByTestId('promote-reason').fill('e2e: better than its baseline');
  await admin.getByTestId('promote-threshold').fill('0.5');
  await admin.getByTestId('model-promote').click();
  await until('the passed verdict', async () => (await text(verdict)).startsWith('passed'), 10_000);
  const {body: afterPass} = await apiGet(base, `/api/v1/models/${ensemble.id}`, traderToken);
  const passLine = afterPass.events.at(-1);
  check(
      'a gate it passes: "passed" with the gate\'s words, now in production',
      afterPass.status === 'production' && passLine.includes('promote: ') &&
          (await text(verdict)).includes(passLine.split('promote: ')[1]) &&
          (await text(verdict)).endsWith('production'),
      {verdict: await text(verdict), passLine});
  check(
      'the model is drawn again as it now is',
      (await text(admin.getByTestId('model-ref'))).endsWith('production') &&
          (await admin.getByTestId('model-promote').count()) === 0 &&
          (await text(admin.getByTestId('model-events'))).includes(passLine),
      await text(admin.getByTestId('model-ref')));
  await until(
      'the list to show it in production',
      async () => (await admin.getByTestId(`model-${ensemble.id}`).getAttribute('data-status')) ===
          'production',
      10_000);
  await admin.screenshot({path: join(artifacts, 'models-promoted.png'), fullPage: true});

  // --- The viewer: everything to read, nothing to run or promote.
  const viewer = await page({width: 1280, height: 1000}, 'viewer');
  await login(viewer, base, 'vera', 'vera-secret');
  await viewer.goto(`${base}/#backtests/${jobId}`);
  await viewer.getByTestId('backtest-report').waitFor({timeout: 10_000});
  await viewer.goto(`${base}/#models/${older.id}`);
  await until(
      'the viewer\'s model detail',
      async () => (await text(viewer.getByTestId('model-ref'))).startsWith('gbp_dash@1'), 10_000);
  for (const id
           of ['backtest-form', 'backtest-submit', 'backtest-cancel', 'model-promote-controls',
               'model-promote', 'promote-reason']) {
    check(`the viewer has no ${id}`, (await viewer.getByTestId(id).count()) === 0);
  }
  await viewer.screenshot({path: join(artifacts, 'viewer-models.png'), fullPage: true});

  // --- Phone width.
  const phone = await page({width: 375, height: 812}, 'phone');
  await login(phone, base, 'tom', 'tom-secret');
  for (const [view, testid] of [
           [`#backtests/${jobId}`, 'backtest-report'],
           [`#models/${ensemble.id}`, 'model-lineage']]) {
    await phone.goto(`${base}/${view}`);
    await phone.getByTestId(testid).waitFor({timeout: 10_000});
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    check(`at 375 px ${view} does not overflow sideways`, width <= 375, `scrollWidth ${width}`);
    await phone.screenshot(
        {path: join(artifacts, `phone-375-${view.slice(1).split('/')[0]}.png`), fullPage: true});
  }
  check(
      'at 375 px the backtest form is on the page',
      (await phone.goto(`${base}/#backtests`),
       await phone.getByTestId('backtest-submit').count()) === 1);

  // --- An API without a registry or jobs: its 503s, as it words them.
  const bareBase = bareStarted.listening;
  const bareToken = await apiLogin(bareBase, 'tom', 'tom-secret');
  const noRegistry = await apiGet(bareBase, '/api/v1/models', bareToken);
  const noJobsDir = await apiGet(bareBase, '/api/v1/backtests', bareToken);
  const lone = await page({width: 1280, height: 1000}, 'no-registry');
  await login(lone, bareBase, 'tom', 'tom-secret');
  await lone.getByTestId('nav-models').click();
  await until(
      'the models 503', async () => (await text(lone.getByTestId('models-error'))) !== '', 10_000);
  check(
      'no registry: the API\'s 503 message on the page',
      noRegistry.status === 503 &&
          (await text(lone.getByTestId('models-error'))).includes(noRegistry.body.error.message),
      {page: await text(lone.getByTestId('models-error')), api: noRegistry.body});
  await lone.getByTestId('nav-backtests').click();
  await until(
      'the backtests 503', async () => (await text(lone.getByTestId('backtests-error'))) !== '',
      10_000);
  check(
      'no jobs directory: the API\'s 503 message on the page',
      noJobsDir.status === 503 &&
          (await text(lone.getByTestId('backtests-error'))).includes(noJobsDir.body.error.message),
      {page: await text(lone.getByTestId('backtests-error')), api: noJobsDir.body});

  // Tokens: the stream's query parameter is the API's one way for a browser's WebSocket.
  const withToken = urls.filter((u) => {
    const url = new URL(u);
    return /token|eyJ/.test(url.search + url.hash) && !url.pathname.endsWith('/api/v1/stream');
  });
  check('no token in any URL but the stream\'s', withToken.length === 0, withToken);
  // The API's refusals the test asked for (400, 503) are logged by the browser; nothing else may
  // be.
  const unexpected = problems.filter((p) => !/status of (400|503)/.test(p));
  check('no script error, no CSP refusal', unexpected.length === 0, unexpected);

  await stop(bare, 'aits api serve (no registry)');
  await stop(api, 'aits api serve');
}

await runScenario('dashboard_views_test', artifacts, killAll, scenario);
