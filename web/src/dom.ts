// A small DOM builder: text is always set as text (never as HTML), so nothing the API returns —
// a reason typed by an operator, a symbol — can inject markup into the page.
type Child = Node|string|number|null|undefined|false;

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
