/**
 * A person at a browser, reduced to what the flow needs: a cookie jar, following the server's
 * redirects by hand (so tests see each Location), and reading forms' hidden fields.
 */
export class Person {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly origin: string) {}

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  async get(url: string): Promise<{ status: number; location: string | null; html: string }> {
    return this.send(url, { method: 'GET' });
  }

  async post(url: string, fields: Record<string, string | string[]>): Promise<{ status: number; location: string | null; html: string }> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
    return this.send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  }

  /** The value of a hidden input in the page. */
  static hidden(html: string, name: string): string {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
    if (!match) throw new Error(`no hidden field "${name}" in the page`);
    return match[1]!.replace(/&amp;/g, '&');
  }

  /**
   * Signs in and consents starting from an authorization URL; returns the final redirect to the
   * app (with code or error). `untick` removes scopes on the consent page.
   */
  async authorize(authorizationUrl: string, credentials: { email: string; password: string }, options: { untick?: string[]; deny?: boolean } = {}): Promise<string> {
    let step = await this.get(authorizationUrl);
    if (step.location?.includes('/login')) {
      const login = await this.get(step.location);
      const interaction = Person.hidden(login.html, 'interaction');
      step = await this.post(step.location.split('?')[0]!, { csrf: Person.hidden(login.html, 'csrf'), interaction, ...credentials });
      if (step.status !== 303) throw new Error(`sign-in failed: ${step.status}`);
    }
    if (step.location?.includes('/consent')) {
      const consent = await this.get(step.location);
      if (consent.status === 303) return consent.location!;
      const scopes = [...consent.html.matchAll(/name="scope" value="([^"]*)"/g)].map((m) => m[1]!).filter((s) => !(options.untick ?? []).includes(s));
      step = await this.post(step.location.split('?')[0]!, {
        csrf: Person.hidden(consent.html, 'csrf'),
        interaction: Person.hidden(consent.html, 'interaction'),
        decision: options.deny ? 'deny' : 'allow',
        scope: scopes,
      });
    }
    if (step.location === null) throw new Error(`the flow stopped at HTTP ${step.status}: ${step.html.slice(0, 300)}`);
    return step.location;
  }

  private async send(url: string, init: RequestInit): Promise<{ status: number; location: string | null; html: string }> {
    const absolute = new URL(url, this.origin);
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(absolute, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = response.headers.get('location');
    return { status: response.status, location: location === null ? null : new URL(location, absolute).toString(), html: await response.text() };
  }
}
