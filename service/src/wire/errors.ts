/** Every error code a client can receive, and the HTTP status it travels with. */
export const ERROR_STATUS = {
  invalid_pixel: 400,
  invalid_request: 400,
  no_session: 401,
  pow_required: 401,
  pow_expired: 401,
  captcha_required: 401,
  forbidden: 403,
  pow_invalid: 403,
  pow_insufficient: 403,
  pow_reused: 403,
  captcha_failed: 403,
  banned: 403,
  network_banned: 403,
  color_not_allowed: 403,
  not_found: 404,
  never_placed: 404,
  method_not_allowed: 405,
  rollback_conflict: 409,
  too_many_projects: 409,
  invalid_project: 400,
  invalid_subscription: 400,
  project_too_large: 413,
  project_out_of_bounds: 422,
  project_off_palette: 422,
  alerts_disabled: 503,
  payload_too_large: 413,
  unsupported_media_type: 415,
  frozen: 423,
  cooldown: 429,
  rate_limited: 429,
  warming_up: 429,
  too_many_sockets: 429,
  unavailable: 503,
  captcha_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A refusal with a code; thrown at the edge and turned into a JSON body once. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
  body(): string {
    return JSON.stringify({ error: this.code, message: this.message, ...this.extra });
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity',
  423: '423 Locked',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status}`;
}
