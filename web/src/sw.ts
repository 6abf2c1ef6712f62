// The dashboard's service worker: it serves backtests' HTML reports to the page's frame.
//
// A report (GET /api/v1/backtests/{id}/report.html) needs the bearer token, which a frame's own
// request cannot carry, and the page's Content-Security-Policy (no inline script or style) would
// be inherited by a srcdoc or blob: frame, so the report's inline charts would not run. So the
// page fetches the report with its token and hands the HTML (never the token) to this worker,
// which answers the frame's navigation to /report-view/{id} with it, under the same
// `Content-Security-Policy: sandbox allow-scripts` the API serves it with: its scripts run in an
// origin of their own that reaches nothing of the dashboard's. Reports live in the worker's
// memory only; the page hands a report over again before every view of it.

// The little of the ServiceWorker API used here (the page's tsconfig has the DOM library, whose
// declarations clash with the WebWorker library's).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends Event {
  readonly request: Request;
  respondWith(response: Response|Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: 'install'|'activate', listener: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: {claim(): Promise<void>};
}

export interface ReportMessage {
  op: 'put'|'forget';
  id?: string;
  html?: string;
}

const scope = self as unknown as WorkerScope;
const reports = new Map<string, string>();
const kPath = /^\/report-view\/(\d+)$/;

scope.addEventListener('install', (e) => e.waitUntil(scope.skipWaiting()));
scope.addEventListener('activate', (e) => e.waitUntil(scope.clients.claim()));

scope.addEventListener('message', (e: MessageEvent) => {
  const message = e.data as ReportMessage;
  if (message.op === 'put' && message.id !== undefined && message.html !== undefined) {
    reports.set(message.id, message.html);
  } else if (message.op === 'forget') {
    // A logout: nothing the user read stays behind.
    reports.clear();
  }
  e.ports[0]?.postMessage('done');
});

scope.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const match = kPath.exec(url.pathname);
  if (url.origin !== location.origin || match === null) return;  // the network, as without us
  const html = reports.get(match[1] ?? '');
  e.respondWith(
      new Response(html ?? 'This report is no longer held: open it again from the dashboard.', {
        status: html === undefined ? 404 : 200,
        headers: {
          'Content-Type': html === undefined ? 'text/plain; charset=utf-8' :
                                               'text/html; charset=utf-8',
          'Content-Security-Policy': 'sandbox allow-scripts',
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        },
      }));
});
