// WebSocket close codes of our own (the 4000–4999 range is the application's), shared by client and server.

/** The client hangs up because nobody is looking: its tab stayed hidden past HIDDEN_GRACE_MS. */
export const CLOSE_HIDDEN = 4000;
