// See ws-stream.h. Update frames: byte 0 kind (1 or 2), bytes 1-4 first seq u32 LE, bytes 5-6 count u16 LE.
#include "ws-stream.h"
#include <string.h>

ws_totals ws_total;
FILE *ws_records;

void ws_stream_init(ws_stream *s, int sampled) {
  memset(s, 0, sizeof *s);
  s->sampled = (uint8_t)sampled;
  s->last = -1;
}

static void on_update(ws_stream *s, const uint8_t *p, uint64_t now) {
  uint32_t first = p[1] | p[2] << 8 | p[3] << 16 | (uint32_t)p[4] << 24;
  uint16_t n = (uint16_t)(p[5] | p[6] << 8);
  s->frames++, ws_total.frames++;
  s->entries += n, ws_total.entries += n;
  if (s->last >= 0) {
    if ((int64_t)first > s->last + 1) s->gaps++, s->missing += (uint64_t)(first - s->last - 1);
    else if ((int64_t)first <= s->last) s->dups++;
  }
  if (n && (int64_t)first + n - 1 > s->last) s->last = (int64_t)first + n - 1;
  if (s->sampled && ws_records) {
    uint8_t r[14]; // x86 and arm64 are little-endian: the fields are written as they are in memory
    memcpy(r, &first, 4);
    memcpy(r + 4, &n, 2);
    memcpy(r + 6, &now, 8);
    fwrite(r, 1, sizeof r, ws_records);
  }
}

static void on_frame(ws_stream *s, int opcode, const uint8_t *p, uint64_t plen, uint64_t now, ws_reply_fn reply, void *ctx) {
  if (opcode == 2 && plen >= 7 && (p[0] == 1 || p[0] == 2)) on_update(s, p, now);
  else if (opcode == 1) s->texts++, ws_total.texts++;
  else if (opcode == 9) reply(ctx, 0xA, p, (int)plen);
  else if (opcode == 8) {
    reply(ctx, 0x8, p, plen >= 2 ? 2 : 0);
    s->closed = 1;
  }
}

void ws_feed(ws_stream *s, const uint8_t *p, size_t n, uint64_t now, ws_reply_fn reply, void *ctx) {
  s->bytes += n, ws_total.bytes += n;
  while (!s->closed) {
    if (s->skip) {
      if (!n) return;
      size_t take = s->skip < n ? (size_t)s->skip : n;
      s->skip -= take, p += take, n -= take;
      continue;
    }
    // What is needed grows as the header tells more: 2 bytes, then the extended length and mask, then
    // the payload bytes we look at (7 of a binary message, all of a ping or close).
    int need = 2, hdr = 0, complete = 0;
    uint64_t plen = 0, want = 0;
    int opcode = s->hb[0] & 0x0f, masked = s->hb[1] & 0x80;
    if (s->hlen >= 2) {
      uint8_t l7 = s->hb[1] & 0x7f;
      hdr = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (masked ? 4 : 0);
      need = hdr;
      if (s->hlen >= hdr) {
        if (l7 < 126) plen = l7;
        else if (l7 == 126) plen = (uint64_t)s->hb[2] << 8 | s->hb[3];
        else for (int i = 0; i < 8; i++) plen = plen << 8 | s->hb[2 + i];
        want = opcode == 2 ? (plen < 7 ? plen : 7) : (opcode == 9 || opcode == 8) && plen <= 125 ? plen : 0;
        need = hdr + (int)want;
        complete = s->hlen >= need;
      }
    }
    if (!complete) {
      if (!n) return;
      size_t take = (size_t)(need - s->hlen) < n ? (size_t)(need - s->hlen) : n;
      memcpy(s->hb + s->hlen, p, take);
      s->hlen += take, p += take, n -= take;
      continue;
    }
    if (masked) // servers must not mask, but it costs nothing to read
      for (uint64_t i = 0; i < want; i++) s->hb[hdr + i] ^= s->hb[hdr - 4 + (i & 3)];
    s->skip = plen - want;
    s->hlen = 0;
    on_frame(s, opcode, s->hb + hdr, plen, now, reply, ctx);
  }
}
