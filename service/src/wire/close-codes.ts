// WebSocket close codes of our own (the 4000–4999 range is the application's), shared by client and server.

/** The client hangs up because nobody is looking: its tab stayed hidden past HIDDEN_GRACE_MS. */
export const CLOSE_HIDDEN = 4000;

/**
 * The server refuses a socket because its network (an IPv4 address, an IPv6 /64) already holds WS_MAX_PER_NETWORK
 * sockets on that server. Sent right after the upgrade: a browser cannot read an HTTP refusal's status, but it
 * reads a close code. (4000 + the HTTP status it stands for.)
 */
export const CLOSE_TOO_MANY_SOCKETS = 4429;
