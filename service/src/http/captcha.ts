// Optional captcha for new sessions (CAPTCHA_VERIFY_URL + CAPTCHA_SECRET): the client's token is checked with
// the provider's siteverify endpoint (Cloudflare Turnstile, hCaptcha and reCAPTCHA share the form: POST
// form-encoded secret, response, remoteip → JSON {"success": bool, "error-codes": [...]}).
import { ApiError } from '../wire/errors.js';

export interface CaptchaSettings {
  url: string;
  secret: string;
  timeoutMs: number;
}

/** Resolves when the provider accepts the token; throws captcha_failed (403) or captcha_unavailable (503). */
export async function verifyCaptcha(s: CaptchaSettings, token: string, remoteip: string): Promise<void> {
  let body: { success?: unknown; 'error-codes'?: unknown };
  try {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: s.secret, response: token, remoteip }),
      signal: AbortSignal.timeout(s.timeoutMs),
    });
    if (!res.ok) throw new Error(`siteverify answered ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new ApiError('captcha_unavailable', 'the captcha could not be checked right now; try again shortly', { cause: (err as Error).name === 'TimeoutError' ? 'timeout' : 'error' });
  }
  if (body?.success === true) return;
  const codes = Array.isArray(body?.['error-codes']) ? body['error-codes'].filter((c) => typeof c === 'string') : [];
  throw new ApiError('captcha_failed', `the captcha was not accepted${codes.length ? ` (${codes.join(', ')})` : ''}; solve it again`);
}
