/**
 * reCAPTCHA (FEATURE_RECAPTCHA): is the answer a browser got from the challenge genuine? The check is the
 * siteverify call of Google's service (a cloud service, so tests play it at RECAPTCHA_VERIFY_URL); it goes
 * out through the one SSRF guard like every outbound call.
 */
import type { Outbound } from '../net/outbound.js';
import type { Principal } from './principal.js';

export interface CaptchaVerifier {
  /** True when the service accepts `response` (the widget's token) for this client address. */
  verify(response: string, remoteIp: string): Promise<boolean>;
}

/** Signed-in users listed in RECAPTCHA_WHITELISTED_USERS are never asked (Quay's rule). */
export function captchaExempt(whitelist: readonly string[], p: Principal): boolean {
  return p.kind === 'user' && whitelist.includes(p.name);
}

/** Quay's message for a missing or refused answer. */
export const CAPTCHA_REFUSED = 'Are you a bot? If not, please revalidate the captcha.';

/** The siteverify protocol: a form POST of secret, response and remoteip; the JSON answer's `success`. */
export class RecaptchaVerifier implements CaptchaVerifier {
  constructor(
    private readonly outbound: Outbound,
    private readonly url: string,
    private readonly secret: string,
  ) {}

  async verify(response: string, remoteIp: string): Promise<boolean> {
    if (!response) return false;
    const res = await this.outbound.request(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: this.secret, response, remoteip: remoteIp }).toString(),
      purpose: 'captcha',
      maxResponseBytes: 64 * 1024,
    });
    if (res.status !== 200) {
      res.discard();
      throw new Error(`reCAPTCHA verification answered HTTP ${res.status}`);
    }
    const body = await res.json<{ success?: unknown }>();
    return body.success === true;
  }
}
