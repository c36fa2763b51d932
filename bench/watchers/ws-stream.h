// The server → client half of one WebSocket as the watchers bench sees it: frame boundaries, update-frame
// headers (seq bookkeeping), pings and closes; payloads beyond the 7-byte update header are skipped.
#ifndef WS_STREAM_H
#define WS_STREAM_H
#include <stdint.h>
#include <stdio.h>

typedef struct {
  uint8_t hb[2 + 8 + 4 + 125]; // frame header + the part of the payload we look at
  uint16_t hlen;
  uint8_t sampled; // this socket's frames go to ws_records
  uint8_t closed;  // the server sent a close frame (answered already)
  uint64_t skip;   // payload bytes still to pass over
  uint32_t frames, gaps, dups, texts;
  uint64_t entries, bytes, missing;
  int64_t last; // highest seq seen, -1 before the first frame
} ws_stream;

typedef struct {
  uint64_t frames, entries, bytes, texts;
} ws_totals;

/** Sums over every stream of the process (for rates between two "mark" commands). */
extern ws_totals ws_total;
/** Where sampled streams append (first seq u32 LE, count u16 LE, arrival CLOCK_REALTIME ns u64 LE). */
extern FILE *ws_records;

/** Sends a (masked) control frame back on the stream's socket. */
typedef void (*ws_reply_fn)(void *ctx, uint8_t opcode, const uint8_t *payload, int n);

void ws_stream_init(ws_stream *s, int sampled);
/** n bytes read from the socket at now (ns); stops early once a close frame was answered. */
void ws_feed(ws_stream *s, const uint8_t *p, size_t n, uint64_t now, ws_reply_fn reply, void *ctx);

#endif
