// A crowd of WebSocket watchers in one epoll loop, for `npm run bench -- --only watchers`: cheap enough
// per frame that the listener side is not what limits the server under test. Build: cc -O2 listener.c ws-stream.c
//
//   listener --port P --count N [--host 127.0.0.1] [--path /ws] [--src-base 2] [--src-count 2]
//            [--sample 10] [--records FILE] [--concurrency 256] [--open-timeout-ms 60000]
//
// Socket i binds to 127.0.0.(src-base + i % src-count) with IP_BIND_ADDRESS_NO_PORT, so its port is
// picked per (source, destination) at connect time: N is not bounded by one address's port range.
// Every frame of every sample-th socket is recorded to FILE (see ws-stream.h).
//
// stdout, a line each: "ready <open> <failed> [first error]" once every socket is open or failed.
// stdin commands: "mark" -> "mark <ns> <open> <frames> <entries> <bytes> <texts>" (running totals);
//   "summary [file]" (or SIGUSR1: lines to stderr) -> per-socket lines "<i> <state> <frames> <entries>
//   <bytes> <gaps> <dups> <missing> <texts> <last>" into file, then "summary <open> <closed> <failed>
//   <frames> <entries> <bytes> <texts> <gaps> <dups> <missing> <gapfree> <minlast> <maxlast>" (minlast
//   over open sockets; gapfree = open, ≥ 1 frame, no gap, no dup); "quit". EOF on stdin quits too.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ws-stream.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { UNUSED, CONNECTING, HANDSHAKE, OPEN, CLOSED, FAILED };
static const char *STATE[] = {"unused", "connecting", "handshake", "open", "closed", "failed"};

typedef struct {
  int fd;
  uint8_t state;
  uint16_t hslen;
  char *hs; // the upgrade answer, until its blank line
  ws_stream ws;
} conn;

static conn *conns;
static int count, port, src_base = 2, src_count = 2, sample = 10, concurrency = 256, open_timeout_ms = 60000;
static const char *host = "127.0.0.1", *path = "/ws", *records_path;
static int epfd, next_conn, in_flight, opened, failed;
static char first_error[160];
static volatile sig_atomic_t want_summary;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void drop(conn *c, int state) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->hs);
  c->hs = NULL;
  c->state = (uint8_t)state;
}

static void fail(conn *c, const char *why) {
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", why);
  if (c->state == CONNECTING || c->state == HANDSHAKE) in_flight--;
  drop(c, FAILED);
  failed++;
}

// Client frames must be masked; a zero mask leaves the payload as it is.
static void reply(void *ctx, uint8_t opcode, const uint8_t *payload, int n) {
  conn *c = ctx;
  uint8_t f[6 + 125];
  f[0] = 0x80 | opcode;
  f[1] = 0x80 | (uint8_t)n;
  memset(f + 2, 0, 4);
  memcpy(f + 6, payload, (size_t)n);
  if (write(c->fd, f, 6 + (size_t)n) < 0) { /* a full buffer only loses a pong: the server then closes, which is counted */ }
}

static void base64(const uint8_t *in, int n, char *out) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int o = 0;
  for (int i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[o] = 0;
}

// At most `concurrency` handshakes at a time: a burst of thousands overflows the server's accept backlog.
static void start_next(void) {
  while (next_conn < count && in_flight < concurrency) {
    int i = next_conn++;
    conn *c = &conns[i];
    c->state = CONNECTING;
    in_flight++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { fail(c, strerror(errno)); continue; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(src_base + i % src_count));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) { fail(c, strerror(errno)); continue; }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &dst.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) { fail(c, strerror(errno)); continue; }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  }
}

static void on_writable(conn *c, int i) {
  if (c->state != CONNECTING) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return fail(c, strerror(err));
  uint8_t raw[16];
  for (int k = 0; k < 16; k++) raw[k] = (uint8_t)rand();
  char key[32], req[512];
  base64(raw, 16, key);
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, port, key);
  if (write(c->fd, req, (size_t)n) != n) return fail(c, "upgrade request not written");
  // Edge-triggered: level-triggered epoll polls every socket it reported once more on the next wait.
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->hs = malloc(1024);
  c->hslen = 0;
  c->state = HANDSHAKE;
}

// Reads what the upgrade answer holds; returns how many bytes of buf were the answer's head (n: all of it).
static size_t handshake(conn *c, const uint8_t *buf, size_t n) {
  size_t prev = c->hslen, room = 1023 - prev, copy = n < room ? n : room;
  memcpy(c->hs + prev, buf, copy);
  c->hslen += copy;
  c->hs[c->hslen] = 0;
  char *end = strstr(c->hs, "\r\n\r\n");
  if (!end) {
    if (c->hslen >= 1023) fail(c, "upgrade answer too long");
    return n;
  }
  if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
    char why[100];
    snprintf(why, sizeof why, "upgrade refused: %.60s", c->hs);
    char *cr = strchr(why, '\r');
    if (cr) *cr = 0;
    fail(c, why);
    return n;
  }
  size_t used = (size_t)(end + 4 - c->hs) - prev;
  free(c->hs);
  c->hs = NULL;
  c->state = OPEN;
  opened++, in_flight--;
  return used;
}

// A read shorter than the buffer emptied the socket, and anything arriving later raises a new edge: so one
// read per event, not a second one to see EAGAIN.
static void on_readable(conn *c, uint8_t *buf, size_t cap) {
  for (;;) {
    if (c->state != HANDSHAKE && c->state != OPEN) return;
    ssize_t n = read(c->fd, buf, cap);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      if (c->state == HANDSHAKE) fail(c, n == 0 ? "closed during the upgrade" : strerror(errno));
      else drop(c, CLOSED);
      return;
    }
    uint64_t now = now_ns();
    size_t used = c->state == HANDSHAKE ? handshake(c, buf, (size_t)n) : 0;
    if (c->state == OPEN && (size_t)n > used) {
      ws_feed(&c->ws, buf + used, (size_t)n - used, now, reply, c);
      if (c->ws.closed) drop(c, CLOSED);
    }
    if ((size_t)n < cap) return;
  }
}

static void summary(FILE *out) {
  int open_n = 0, closed_n = 0, failed_n = 0, gapfree = 0, any_open = 0;
  uint64_t frames = 0, entries = 0, bytes = 0, texts = 0, gaps = 0, dups = 0, missing = 0;
  int64_t minlast = -1, maxlast = -1;
  if (ws_records) fflush(ws_records);
  for (int i = 0; i < count; i++) {
    conn *c = &conns[i];
    ws_stream *s = &c->ws;
    if (out) fprintf(out, "%d %s %u %llu %llu %u %u %llu %u %lld\n", i, STATE[c->state], s->frames, (unsigned long long)s->entries, (unsigned long long)s->bytes, s->gaps, s->dups, (unsigned long long)s->missing, s->texts, (long long)s->last);
    open_n += c->state == OPEN, closed_n += c->state == CLOSED, failed_n += c->state == FAILED;
    frames += s->frames, entries += s->entries, bytes += s->bytes, texts += s->texts;
    gaps += s->gaps, dups += s->dups, missing += s->missing;
    if (c->state == OPEN && s->frames && !s->gaps && !s->dups) gapfree++;
    if (c->state == OPEN && (!any_open || s->last < minlast)) minlast = s->last, any_open = 1;
    if (s->last > maxlast) maxlast = s->last;
  }
  if (out) fflush(out);
  printf("summary %d %d %d %llu %llu %llu %llu %llu %llu %llu %d %lld %lld\n", open_n, closed_n, failed_n, (unsigned long long)frames, (unsigned long long)entries, (unsigned long long)bytes, (unsigned long long)texts, (unsigned long long)gaps, (unsigned long long)dups, (unsigned long long)missing, gapfree, (long long)minlast, (long long)maxlast);
}

static void on_command(char *line) {
  if (!strncmp(line, "mark", 4)) {
    printf("mark %llu %d %llu %llu %llu %llu\n", (unsigned long long)now_ns(), opened, (unsigned long long)ws_total.frames, (unsigned long long)ws_total.entries, (unsigned long long)ws_total.bytes, (unsigned long long)ws_total.texts);
  } else if (!strncmp(line, "summary", 7)) {
    char *file = line + 7;
    while (*file == ' ') file++;
    FILE *out = *file ? fopen(file, "w") : NULL;
    summary(out);
    if (out) fclose(out);
  } else if (!strncmp(line, "quit", 4)) exit(0);
  else printf("error unknown command %s\n", line);
}

static void on_stdin(void) {
  static char line[4096];
  static size_t len;
  ssize_t n = read(0, line + len, sizeof line - 1 - len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) exit(0); // the bench is gone
  len += (size_t)n;
  char *nl;
  while ((nl = memchr(line, '\n', len))) {
    *nl = 0;
    on_command(line);
    len -= (size_t)(nl + 1 - line);
    memmove(line, nl + 1, len);
  }
  if (len == sizeof line - 1) len = 0;
}

static void on_usr1(int sig) {
  (void)sig;
  want_summary = 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--count")) count = atoi(v);
    else if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--path")) path = v;
    else if (!strcmp(k, "--src-base")) src_base = atoi(v);
    else if (!strcmp(k, "--src-count")) src_count = atoi(v);
    else if (!strcmp(k, "--sample")) sample = atoi(v);
    else if (!strcmp(k, "--records")) records_path = v;
    else if (!strcmp(k, "--concurrency")) concurrency = atoi(v);
    else if (!strcmp(k, "--open-timeout-ms")) open_timeout_ms = atoi(v);
    else { fprintf(stderr, "unknown option %s\n", k); return 2; }
  }
  if (argc % 2 == 0 || port <= 0 || count <= 0 || src_base < 1 || src_count <= 0 || src_base + src_count > 255 || sample <= 0 || concurrency <= 0) {
    fprintf(stderr, "usage: listener --port P --count N [--host H] [--path /ws] [--src-base 2] [--src-count 2] [--sample 10] [--records FILE] [--concurrency 256] [--open-timeout-ms 60000]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (records_path) {
    ws_records = fopen(records_path, "w");
    if (!ws_records) { perror(records_path); return 1; }
    setvbuf(ws_records, NULL, _IOFBF, 1 << 20);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_usr1}; // no SA_RESTART: epoll_wait returns EINTR at once
  sigaction(SIGUSR1, &sa, NULL);
  srand((unsigned)now_ns() ^ (unsigned)getpid());
  conns = calloc((size_t)count, sizeof *conns);
  for (int i = 0; i < count; i++) conns[i].fd = -1, ws_stream_init(&conns[i].ws, i % sample == 0);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);
  static uint8_t buf[1 << 16];
  struct epoll_event evs[1024];
  uint64_t deadline = now_ns() + (uint64_t)open_timeout_ms * 1000000ull;
  int ready = 0;
  start_next();
  for (;;) {
    if (!ready && (opened + failed == count || now_ns() > deadline)) {
      for (int i = 0; i < count; i++)
        if (conns[i].state < OPEN) fail(&conns[i], "not open within --open-timeout-ms");
      printf("ready %d %d %s\n", opened, failed, first_error);
      ready = 1;
    }
    int n = epoll_wait(epfd, evs, 1024, ready ? 1000 : 100);
    if (want_summary) {
      want_summary = 0;
      summary(stderr);
    }
    for (int k = 0; k < n; k++) {
      uint32_t i = evs[k].data.u32;
      if (i == UINT32_MAX) { on_stdin(); continue; }
      if (evs[k].events & EPOLLOUT) on_writable(&conns[i], (int)i);
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(&conns[i], buf, sizeof buf);
    }
    if (!ready) start_next();
  }
}
