// A small DOM builder: text is always set as text (never as HTML), so nothing the API returns —
// a reason typed by an operator, a symbol — can inject markup into the page.
export type Child = Node|string|number|null|undefined|false;

export function h<K extends keyof HTMLElementTagNameMap>(
    tag: K, attrs: Record<string, string|boolean|((e: Event) => void)> = {},
    ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, ''), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (value !== false) {
      el.setAttribute(name, value);
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

export function num(value: unknown, digits = 2): string {
  const n = typeof value === 'string' ? Number(value) : (value as number);
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '—';
}

export function time(iso: unknown): string {
  if (typeof iso !== 'string' || iso === '') return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Any value of the API's answers as text: whole numbers as they are, others to 5 digits.
export function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : num(v, 5);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '—';
  return JSON.stringify(v);
}

// A definition list of name and value pairs.
export function kv(entries: [string, unknown][], testid?: string): HTMLElement {
  const attrs: Record<string, string> = {class: 'kv'};
  if (testid !== undefined) attrs['data-testid'] = testid;
  return h('dl', attrs, ...entries.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, value(v))]));
}

// A table row that opens something on a click, or on Enter once it has the keyboard's focus.
export function clickableRow(
    attrs: Record<string, string>, selected: boolean, open: () => void,
    ...cells: Child[]): HTMLTableRowElement {
  const row = h(
      'tr', {...attrs, class: `clickable${selected ? ' selected' : ''}`, tabindex: '0'}, ...cells);
  row.addEventListener('click', open);
  row.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') open();
  });
  return row;
}
