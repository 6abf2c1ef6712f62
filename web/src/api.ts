// The API client: the OAuth2 password login, requests with the access token (refreshed with the
// refresh token before it ends, or once after a 401), and the WebSocket stream, resumed from
// the last seq after a reconnect (docs/api.md, "Tokens" and "Streams").
//
// The tokens are kept in memory only: a reload asks for the password again, and no script
// injected later finds a token in storage.

export type Role = 'viewer'|'trader'|'admin';

export interface Me {
  subject: string;
  role: Role;
  kind: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

// An error as the page shows it: the API's own message, then its status and code.
export function errorText(e: unknown): string {
  return e instanceof ApiError ? `${e.message} (${e.status} ${e.code})` : String(e);
}

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
}

// The error body of the API ({error: {code, message}}) or of the token endpoint
// ({error, error_description}), as one ApiError.
async function errorOf(response: Response): Promise<ApiError> {
  let code = 'http_' + response.status;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body: unknown = await response.json();
    if (typeof body === 'object' && body !== null && 'error' in body) {
      const error = (body as {
                      error: unknown;
                      error_description?: unknown
                    }).error;
      if (typeof error === 'object' && error !== null) {
        const e = error as {
          code?: unknown;
          message?: unknown
        };
        if (typeof e.code === 'string') code = e.code;
        if (typeof e.message === 'string') message = e.message;
      } else if (typeof error === 'string') {
        code = error;
        const description = (body as {error_description?: unknown}).error_description;
        if (typeof description === 'string') message = description;
      }
    }
  } catch {
    // Not JSON: the status line says enough.
  }
  return new ApiError(response.status, code, message);
}

export class Api {
  private access = '';
  private refresh = '';
  private expiresAt = 0;  // ms since the epoch
  private refreshing: Promise<void>|null = null;

  constructor(private readonly base: string = '') {}

  get loggedIn(): boolean {
    return this.access !== '';
  }

  async login(username: string, password: string): Promise<void> {
    await this.grant(new URLSearchParams({grant_type: 'password', username, password}));
  }

  logout(): void {
    this.access = '';
    this.refresh = '';
    this.expiresAt = 0;
  }

  // The access token, refreshed first when it ends within a minute.
  async token(): Promise<string> {
    if (this.refresh !== '' && Date.now() > this.expiresAt - 60_000) await this.renew();
    return this.access;
  }

  async get<T>(path: string): Promise<T> {
    return (await this.send('GET', path)).json() as Promise<T>;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.send('POST', path, body)).json() as Promise<T>;
  }

  async delete<T>(path: string): Promise<T> {
    return (await this.send('DELETE', path)).json() as Promise<T>;
  }

  // A document that is not JSON (a backtest's HTML report), read with the token like the rest.
  async text(path: string): Promise<string> {
    return (await this.send('GET', path)).text();
  }

  // The answer when it is a success; otherwise the API's error, as it words it.
  private async send(method: string, path: string, body?: unknown, retried = false):
      Promise<Response> {
    const headers: Record<string, string> = {Authorization: `Bearer ${await this.token()}`};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (response.status === 401 && !retried && this.refresh !== '') {
      // The token may have ended early (a clock step, a rotated key): one refresh, one retry.
      await this.renew();
      return this.send(method, path, body, true);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  private renew(): Promise<void> {
    // Concurrent callers share one refresh: a refresh token is good for one use only.
    this.refreshing ??=
        this.grant(new URLSearchParams({grant_type: 'refresh_token', refresh_token: this.refresh}))
            .finally(() => {
              this.refreshing = null;
            });
    return this.refreshing;
  }

  private async grant(form: URLSearchParams): Promise<void> {
    const response = await fetch(this.base + '/api/v1/auth/token', {
      method: 'POST',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'},
      body: form.toString(),
    });
    if (!response.ok) {
      this.logout();
      throw await errorOf(response);
    }
    const answer = (await response.json()) as TokenAnswer;
    this.access = answer.access_token;
    this.refresh = answer.refresh_token ?? '';
    this.expiresAt = Date.now() + answer.expires_in * 1000;
  }

  streamUrl(token: string): string {
    const url = new URL(this.base + '/api/v1/stream', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('access_token', token);
    return url.toString();
  }
}

export interface StreamMessage {
  topic: string;
  seq: number;
  // A message published beside the log (an alert) carries the seq of the newest event and an id
  // of its own.
  id?: string;
  symbol?: string;
  data: Record<string, unknown>;
}

// The stream of the topics given: reconnects (with a fresh token) after a close, resuming from
// the last seq it had, and drops the seqs it already saw. The status callback tells the page
// whether it is live.
export class Stream {
  private socket: WebSocket|null = null;
  private last = 0;
  private stopped = false;
  private retry = 500;
  // Keys of the messages of the last seq handled: a tick that closes a bar gives two messages of
  // one seq, and alerts take the seq of the newest event, so dropping on seq alone would lose
  // them.
  private seen = new Set<string>();

  constructor(
      private readonly api: Api, private readonly topics: string[],
      private readonly onMessage: (m: StreamMessage) => void,
      private readonly onStatus: (live: boolean, why: string) => void,
      // The first subscription's `from` (0: from now on); later ones resume from the last seq.
      private readonly from = 0) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = null;
  }

  private async connect(): Promise<void> {
    let token: string;
    try {
      token = await this.api.token();
    } catch (e) {
      this.onStatus(false, `cannot refresh the login: ${(e as Error).message}`);
      return;
    }
    if (this.stopped) return;
    const socket = new WebSocket(this.api.streamUrl(token));
    this.socket = socket;
    socket.onopen = () => {
      this.retry = 500;
      const subscribe: Record<string, unknown> = {op: 'subscribe', topics: this.topics};
      const from = this.last > 0 ? this.last : this.from;
      if (from > 0) subscribe['from'] = from;
      socket.send(JSON.stringify(subscribe));
      this.onStatus(true, 'live');
    };
    socket.onmessage = (event: MessageEvent) => {
      // One frame carries one or more messages, one per line.
      for (const line of String(event.data).split('\n')) {
        if (line === '') continue;
        const message = JSON.parse(line) as StreamMessage & {
          type?: string;
          message?: string
        };
        if (message.type !== undefined) {
          if (message.type === 'error' || message.type === 'gap') {
            this.onStatus(true, `${message.type}: ${message.message ?? ''}`);
          }
          continue;
        }
        const key = `${message.seq}/${message.topic}/${message.id ?? ''}`;
        if (message.seq < this.last || this.seen.has(key)) continue;
        if (message.seq > this.last) this.seen.clear();
        this.seen.add(key);
        this.last = message.seq;
        this.onMessage(message);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.onStatus(false, `reconnecting (${event.reason || 'closed'})`);
      window.setTimeout(() => void this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10_000);
    };
  }
}
