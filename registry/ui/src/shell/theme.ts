/** Light/dark/system appearance, kept in localStorage and applied as PatternFly's dark theme class. */
export type Theme = 'light' | 'dark' | 'system';
const KEY = 'quay.theme';

export function storedTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(t: Theme): void {
  localStorage.setItem(KEY, t);
  const dark = t === 'dark' || (t === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('pf-v6-theme-dark', dark);
}
