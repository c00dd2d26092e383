/* An HTTP/1.1 load generator at a fixed rate (wrk has none): `threads`
 * threads, each with one keep-alive connection to 127.0.0.1:`port`, each
 * sending GET `path` on an absolute schedule of rate/threads requests a second
 * (a late request goes at once, so the rate holds unless the server cannot
 * keep up), each reading the whole response before the next.
 *
 *     rate_client PORT PATH RATE SECONDS [THREADS=8]
 *
 * Prints "sent N ok N failed N late_ms N": requests sent, answered 200,
 * failed (any other answer, or a broken connection, which ends that thread),
 * and how far behind its schedule the slowest thread ended. Built by
 * tests/bench/steady_load.py with the system's cc. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
  int port;
  const char *path;
  double rate;    /* requests a second, this thread */
  double seconds; /* how long */
  uint64_t sent, ok, failed;
  double late_ms;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/* Reads one response; its status, or -1 when the connection broke. */
static int read_response(int fd, char *buffer, size_t size) {
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    if (have == size - 1)
      return -1; /* a head longer than the buffer: not what nginx sends */
    ssize_t got = read(fd, buffer + have, size - 1 - have);
    if (got <= 0)
      return -1;
    have += (size_t)got;
    buffer[have] = '\0';
    end = strstr(buffer, "\r\n\r\n");
  }
  int status = 0;
  if (sscanf(buffer, "HTTP/1.%*d %d", &status) != 1)
    return -1;
  long length = 0;
  for (char *line = strstr(buffer, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "content-length:", 15) == 0)
      length = strtol(line + 2 + 15, NULL, 10);
  }
  size_t body_have = have - (size_t)(end + 4 - buffer);
  while ((long)body_have < length) {
    ssize_t got = read(fd, buffer, size);
    if (got <= 0)
      return -1;
    body_have += (size_t)got;
  }
  return status;
}

static void *run(void *argument) {
  struct worker *w = argument;
  char request[512];
  int request_length = snprintf(request, sizeof(request),
                                "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: rate_client\r\n\r\n",
                                w->path, w->port);
  char buffer[65536];
  int fd = connect_to(w->port);
  if (fd < 0) {
    w->failed++;
    return NULL;
  }
  uint64_t start = now_ns();
  uint64_t gap = (uint64_t)(1e9 / w->rate);
  uint64_t count = (uint64_t)(w->rate * w->seconds);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t due = start + i * gap;
    uint64_t now = now_ns();
    if (now < due) {
      struct timespec wait = {.tv_sec = (time_t)((due - now) / 1000000000u),
                              .tv_nsec = (long)((due - now) % 1000000000u)};
      nanosleep(&wait, NULL);
    }
    if (write(fd, request, (size_t)request_length) != request_length) {
      w->failed++;
      break;
    }
    w->sent++;
    int status = read_response(fd, buffer, sizeof(buffer));
    if (status < 0) {
      w->failed++;
      break;
    }
    if (status == 200)
      w->ok++;
    else
      w->failed++;
  }
  uint64_t end = now_ns(), scheduled_end = start + count * gap;
  w->late_ms = end > scheduled_end ? (double)(end - scheduled_end) / 1e6 : 0;
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: rate_client PORT PATH RATE SECONDS [THREADS=8]\n");
    return 2;
  }
  int threads = argc > 5 ? atoi(argv[5]) : 8;
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "rate_client: THREADS must be 1 to 256\n");
    return 2;
  }
  struct worker workers[256];
  pthread_t ids[256];
  for (int i = 0; i < threads; i++) {
    workers[i] = (struct worker){.port = atoi(argv[1]),
                                 .path = argv[2],
                                 .rate = atof(argv[3]) / threads,
                                 .seconds = atof(argv[4])};
    pthread_create(&ids[i], NULL, run, &workers[i]);
  }
  uint64_t sent = 0, ok = 0, failed = 0;
  double late_ms = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    sent += workers[i].sent;
    ok += workers[i].ok;
    failed += workers[i].failed;
    if (workers[i].late_ms > late_ms)
      late_ms = workers[i].late_ms;
  }
  printf("sent %llu ok %llu failed %llu late_ms %.0f\n", (unsigned long long)sent,
         (unsigned long long)ok, (unsigned long long)failed, late_ms);
  return failed ? 1 : 0;
}
