import { html, page } from '../portal/html.js';

/** A page for a console request that could not go on (no session context to draw the shell with). */
export function consoleErrorPage(title: string, message: string): string {
  return page(`${title} · Keygate console`, html`<h1>${title}</h1><p class="lead">${message}</p><p><a href="/console">Back to the console</a> · <a href="/console/login">Sign in</a></p>`);
}
