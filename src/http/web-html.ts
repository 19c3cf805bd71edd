// Server-rendered HTML of the portal and the admin console. Every interpolation goes through the
// `html` tag, which escapes it unless it is already Html (made by this tag): no other path turns
// a string into markup. The pages carry no inline script or style (the CSP forbids both).

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** The one escaping helper: a tagged template whose interpolations are escaped (Html passes as is). */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

export interface PageOptions {
  /** Never client data: "Locations – sessionsync". */
  title: string;
  heading: string;
  area: 'portal' | 'admin';
  /** The CSRF token for the sign-out form; absent when signed out. */
  csrf?: string;
  /** Asset URLs with their version (web-assets.ts). */
  assets: { css: string; js: string };
  current?: string;
  body: Html;
}

const NAV: Record<PageOptions['area'], readonly { href: string; label: string }[]> = {
  portal: [
    { href: '/portal', label: 'Overview' },
    { href: '/portal/locations', label: 'Locations' },
    { href: '/portal/feeds', label: 'Calendar feeds' },
    { href: '/portal/calendars', label: 'Connected calendars' },
    { href: '/portal/privacy', label: 'Privacy' },
    { href: '/portal/busy', label: 'Other calendars' },
    { href: '/portal/sessions', label: 'Upcoming sessions' },
  ],
  admin: [
    { href: '/admin', label: 'Sync health' },
    { href: '/admin/resync', label: 'Resync' },
    { href: '/admin/providers', label: 'Providers' },
    { href: '/admin/audit', label: 'Audit log' },
  ],
};

export function page(o: PageOptions): string {
  const nav = o.csrf === undefined ? [] : NAV[o.area];
  const signOut =
    o.csrf === undefined
      ? ''
      : html`<form method="post" action="/${o.area}/sign-out" class="sign-out"><input type="hidden" name="_csrf" value="${o.csrf}"><button type="submit">Sign out</button></form>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title}</title>
<link rel="stylesheet" href="${o.assets.css}">
<script src="${o.assets.js}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
<p class="brand">sessionsync ${o.area === 'portal' ? 'provider portal' : 'admin console'}</p>
${nav.length > 0 ? html`<nav aria-label="Main"><ul>${nav.map((item) => html`<li><a href="${item.href}"${o.current === item.href ? html` aria-current="page"` : ''}>${item.label}</a></li>`)}</ul></nav>` : ''}
${signOut}
</header>
<main id="main" tabindex="-1">
<h1>${o.heading}</h1>
${o.body}
</main>
</body>
</html>
`.value;
}

/** An instant as the pages show it: "2026-11-10 15:00 UTC". */
export function utcWhen(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
