// Shows a backtest's HTML report inside the page, through the service worker of sw.ts (which
// says why a frame cannot load it directly).
import type {ReportMessage} from './sw';

let registration: Promise<ServiceWorker>|null = null;

function worker(): Promise<ServiceWorker> {
  if (!('serviceWorker' in navigator)) {
    return Promise.reject(new Error(
        'this browser offers no service worker here (they need https or localhost), ' +
        'so the HTML report cannot be shown; its metrics are above'));
  }
  registration ??= navigator.serviceWorker.register('sw.js', {scope: './'})
                       .then(() => navigator.serviceWorker.ready)
                       .then((r) => {
                         if (r.active === null) throw new Error('the report worker did not start');
                         return r.active;
                       })
                       .catch((e: unknown) => {
                         registration = null;
                         throw e;
                       });
  return registration;
}

function tell(target: ServiceWorker, message: ReportMessage): Promise<void> {
  const channel = new MessageChannel();
  const done = new Promise<void>((resolve) => {
    channel.port1.onmessage = () => resolve();
  });
  target.postMessage(message, [channel.port2]);
  return done;
}

// The frame showing report `id` (its HTML as the API sent it), once the worker holds it.
export async function reportFrame(id: number, html: string): Promise<HTMLIFrameElement> {
  await tell(await worker(), {op: 'put', id: String(id), html});
  const frame = document.createElement('iframe');
  frame.className = 'report';
  frame.title = `backtest ${id} report`;
  frame.setAttribute('data-testid', 'backtest-report-frame');
  // No sandbox attribute: a sandboxed frame's navigation skips the service worker. The worker's
  // answer carries `Content-Security-Policy: sandbox allow-scripts`, which sandboxes the
  // document just as the attribute would (an opaque origin, scripts only).
  frame.src = `report-view/${id}`;
  return frame;
}

// Drops every report the worker holds (at logout).
export function forgetReports(): void {
  if (registration === null) return;
  void registration.then((w) => tell(w, {op: 'forget'})).catch(() => {});
}
