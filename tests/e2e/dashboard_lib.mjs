// What the dashboard's browser tests share (dashboard_test.mjs, dashboard_views_test.mjs): checks
// that count failures, waiting, the aits processes they start, the auth store's users, and
// pages of headless Chromium (playwright-core from web/node_modules driving Debian's
// /usr/bin/chromium) that record their script errors and CSP refusals.
import {execFileSync, spawn} from 'node:child_process';
import {once} from 'node:events';
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {createInterface} from 'node:readline';

let failures = 0;

export function check(what, ok, detail = '') {
  if (ok) {
    console.log(`ok:   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL: ${what} ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  }
  return ok;
}

export function failureCount() {
  return failures;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what, probe, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

// The aits binary's runs: `run` waits for one, `start` keeps it running (its stderr collected),
// `stop` ends it with SIGINT and checks it exits 0, `killAll` ends what is left at the end.
export function processes(aits) {
  const procs = [];
  const run = (args, env = {}) => execFileSync(
      aits, args,
      {env: {...process.env, ...env}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  const start = (args) => {
    const proc = spawn(aits, args, {stdio: ['ignore', 'pipe', 'pipe']});
    proc.stderrText = '';
    proc.stderr.on('data', (chunk) => {
      proc.stderrText += chunk;
    });
    procs.push(proc);
    return proc;
  };
  const stop = async (proc, what) => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      check(`${what} was still running at the end`, false, proc.stderrText.slice(-2000));
      return;
    }
    const exited = once(proc, 'exit');
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code] = await exited;
    clearTimeout(timer);
    check(`${what} stops on SIGINT with exit 0`, code === 0, `(exit ${code}) ${proc.stderrText}`);
  };
  const killAll = async () => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await once(p, 'exit').catch(() => {});
      }
    }
  };
  // `aits api serve ARGS`, started; its first line (--json) says where it listens.
  const serve = async (args) => {
    const proc = start(['api', 'serve', '--json', ...args]);
    const [line] = await Promise.race([
      once(createInterface({input: proc.stdout}), 'line'),
      once(proc, 'exit').then(() => {
        throw new Error(`aits api serve did not start: ${proc.stderrText}`);
      }),
    ]);
    return {proc, started: JSON.parse(line)};
  };
  return {run, start, stop, killAll, serve};
}

// An auth store in `work` with a trader (tom), a viewer (vera) and an admin (ada), each with the
// password NAME-secret; answers the flags that name it.
export function authStore(run, work) {
  const auth =
      ['--auth', join(work, 'auth.db'), '--master-key', join(work, 'master.key'), '--fast-hash'];
  run(['api', 'init', ...auth]);
  run(['api', 'user', 'add', 'tom', '--role', 'trader', ...auth], {AITS_PASSWORD: 'tom-secret'});
  run(['api', 'user', 'add', 'vera', '--role', 'viewer', ...auth], {AITS_PASSWORD: 'vera-secret'});
  run(['api', 'user', 'add', 'ada', '--role', 'admin', ...auth], {AITS_PASSWORD: 'ada-secret'});
  return auth;
}

export async function apiGet(base, path, token) {
  const r = await fetch(base + path, {headers: {Authorization: `Bearer ${token}`}});
  return {status: r.status, body: await r.json()};
}

export async function apiLogin(base, user, password) {
  const r = await fetch(base + '/api/v1/auth/token', {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({grant_type: 'password', username: user, password}).toString(),
  });
  return (await r.json()).access_token;
}

// Debian's chromium, through the playwright-core of the dashboard's dev dependencies.
export function launchChromium(webSource) {
  const {chromium} = createRequire(resolve(webSource, 'package.json'))('playwright-core');
  // No sandbox: CI runs as root. /dev/shm is small in containers: shared memory goes to /tmp.
  return chromium.launch(
      {executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage']});
}

// A page that records its script errors, failed requests and CSP refusals.
export async function newPage(browser, viewport, problems, name) {
  const context = await browser.newContext({viewport, deviceScaleFactor: 1});
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  return page;
}

export async function login(page, base, user, password) {
  await page.goto(base + '/');
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('whoami').waitFor({timeout: 15_000});
}

export const text = async (locator) => (await locator.textContent())?.trim() ?? '';

// Runs `scenario(work, keepBrowser)` in a fresh temporary directory, then closes the browser it
// handed over (at once, so that a failure still closes it), ends the processes left and removes
// the directory; exits 1 if any check failed.
export async function runScenario(name, artifacts, killAll, scenario) {
  mkdirSync(artifacts, {recursive: true});
  const work = mkdtempSync(join(tmpdir(), `aits_${name}_`));
  let browser = null;
  try {
    await scenario(work, (b) => {
      browser = b;
    });
  } catch (e) {
    check('the scenario ran to its end', false, e.stack ?? String(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killAll();
    rmSync(work, {recursive: true, force: true});
  }
  console.log(`${name}: ${failureCount()} failure(s); screenshots in ${artifacts}`);
  process.exit(failureCount() ? 1 : 0);
}
