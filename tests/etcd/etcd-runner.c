/* SPDX-License-Identifier: Apache-2.0 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "etcd-runner.h"

#define ETCD_BINARY_DEFAULT "/usr/bin/etcd"
#define MAX_RUNNERS 4
#define READY_TIMEOUT (30 * USEC_PER_SEC)
#define STOP_TIMEOUT (10 * USEC_PER_SEC)

struct EtcdRunner {
        pid_t pid;
        char dir[PATH_MAX];
        int client_port;
        int peer_port;
        char url[64];
};

static EtcdRunner *runners[MAX_RUNNERS];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void kill_and_reap(EtcdRunner *r, int sig) {
        if (r->pid <= 0)
                return;
        (void) kill(r->pid, sig);
        (void) waitpid(r->pid, NULL, 0);
        r->pid = 0;
}

static void runners_cleanup(void) {
        for (size_t i = 0; i < MAX_RUNNERS; i++)
                runners[i] = etcd_runner_free(runners[i]);
}

static int runner_register(EtcdRunner *r) {
        static bool registered = false;

        if (!registered) {
                if (atexit(runners_cleanup) != 0)
                        return -ENOMEM;
                registered = true;
        }
        for (size_t i = 0; i < MAX_RUNNERS; i++)
                if (!runners[i]) {
                        runners[i] = r;
                        return 0;
                }
        return -EMFILE;
}

/* Two ports nobody listens on: bound together so that they differ, then released. */
static int free_ports(int *ret_a, int *ret_b) {
        _cleanup_close_ int a = -EBADF, b = -EBADF;
        int ports[2];

        a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (a < 0 || b < 0)
                return -errno;
        for (int i = 0; i < 2; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t l = sizeof(sa);
                int fd = i == 0 ? a : b;

                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
                    getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                        return -errno;
                ports[i] = ntohs(sa.sin_port);
        }
        *ret_a = ports[0];
        *ret_b = ports[1];
        return 0;
}

size_t etcd_runner_collect(char *p, size_t size, size_t n, void *userdata) {
        char **s = userdata;
        size_t old = *s ? strlen(*s) : 0;
        char *t = realloc(*s, old + size * n + 1);

        if (!t)
                return 0;
        memcpy(t + old, p, size * n);
        t[old + size * n] = 0;
        *s = t;
        return size * n;
}

/* A blocking request: GET when body is NULL, POST otherwise. */
static int http(const char *url, const char *body, const char *token, char **ret_body) {
        _cleanup_free_ char *answer = NULL, *auth = NULL;
        struct curl_slist *headers = NULL;
        long status = 0;
        CURLcode cc;
        CURL *e;

        e = curl_easy_init();
        if (!e)
                return -ENOMEM;
        if (token && asprintf(&auth, "Authorization: %s", token) >= 0)
                headers = curl_slist_append(headers, auth);
        (void) curl_easy_setopt(e, CURLOPT_URL, url);
        (void) curl_easy_setopt(e, CURLOPT_PROXY, "");
        (void) curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
        (void) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, etcd_runner_collect);
        (void) curl_easy_setopt(e, CURLOPT_WRITEDATA, &answer);
        if (body)
                (void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        cc = curl_easy_perform(e);
        if (cc == CURLE_OK)
                (void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        curl_slist_free_all(headers);
        if (cc != CURLE_OK)
                return -ECONNREFUSED;
        if (ret_body)
                *ret_body = TAKE_PTR(answer);
        return (int) status;
}

static void print_log(EtcdRunner *r) {
        char cmd[PATH_MAX + 32];

        fprintf(stderr, "--- last lines of %s/etcd.log ---\n", r->dir);
        snprintf(cmd, sizeof(cmd), "tail -n 20 '%s/etcd.log' >&2", r->dir);
        (void) system(cmd);
}

/* FLEETD_TEST_ETCD points elsewhere (another etcd, or a missing one to see the test skip). */
static const char *etcd_binary(void) {
        return getenv("FLEETD_TEST_ETCD") ?: ETCD_BINARY_DEFAULT;
}

static _noreturn_ void exec_etcd(EtcdRunner *r, pid_t parent) {
        char data[PATH_MAX + 8], log[PATH_MAX + 16], client[64], peer[64], cluster[80];
        int fd;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(EXIT_FAILURE);
        snprintf(data, sizeof(data), "%s/data", r->dir);
        snprintf(log, sizeof(log), "%s/etcd.log", r->dir);
        snprintf(client, sizeof(client), "http://127.0.0.1:%d", r->client_port);
        snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", r->peer_port);
        snprintf(cluster, sizeof(cluster), "n1=%s", peer);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
                (void) dup2(fd, STDOUT_FILENO);
                (void) dup2(fd, STDERR_FILENO);
        }
        /* --auth-token-ttl 3: the authentication test lets a token expire */
        execl(etcd_binary(), "etcd", "--name", "n1", "--data-dir", data,
              "--listen-client-urls", client, "--advertise-client-urls", client,
              "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
              "--initial-cluster", cluster, "--auth-token-ttl", "3", (char *) NULL);
        _exit(127);
}

static int spawn_and_wait(EtcdRunner *r) {
        pid_t parent = getpid(), pid;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + READY_TIMEOUT;
        char url[128];

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_etcd(r, parent);
        r->pid = pid;

        snprintf(url, sizeof(url), "%s/health", r->url);
        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                _cleanup_free_ char *body = NULL;

                if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
                        r->pid = 0;
                        print_log(r);
                        return -ECHILD;
                }
                if (http(url, NULL, NULL, &body) == 200 && body && strstr(body, "true"))
                        return 0;
                (void) usleep(50 * 1000);
        }
        print_log(r);
        kill_and_reap(r, SIGKILL);
        return -ETIMEDOUT;
}

int etcd_runner_start(EtcdRunner **ret) {
        EtcdRunner *r;
        int k = 0;

        if (access(etcd_binary(), X_OK) < 0)
                return -ENOENT;
        r = calloc(1, sizeof(EtcdRunner));
        if (!r)
                return -ENOMEM;
        snprintf(r->dir, sizeof(r->dir), "%s/fleetd-etcd-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(r->dir)) {
                free(r);
                return -errno;
        }
        k = runner_register(r);
        if (k < 0) {
                (void) rmdir(r->dir);
                free(r);
                return k;
        }
        /* A port taken between choosing and binding makes etcd exit: choose again. */
        for (int attempt = 0; attempt < 3; attempt++) {
                k = free_ports(&r->client_port, &r->peer_port);
                if (k < 0)
                        break;
                snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", r->client_port);
                k = spawn_and_wait(r);
                if (k != -ECHILD)
                        break;
        }
        if (k < 0)
                return k;  /* freed at exit */
        *ret = r;
        return 0;
}

int etcd_runner_stop(EtcdRunner *r) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + STOP_TIMEOUT;

        if (r->pid <= 0)
                return 0;
        (void) kill(r->pid, SIGTERM);
        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
                        r->pid = 0;
                        return 0;
                }
                (void) usleep(20 * 1000);
        }
        kill_and_reap(r, SIGKILL);
        return -ETIMEDOUT;
}

int etcd_runner_restart(EtcdRunner *r) {
        if (r->pid > 0)
                return -EBUSY;
        return spawn_and_wait(r);
}

EtcdRunner *etcd_runner_free(EtcdRunner *r) {
        if (!r)
                return NULL;
        kill_and_reap(r, SIGKILL);
        (void) nftw(r->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        for (size_t i = 0; i < MAX_RUNNERS; i++)
                if (runners[i] == r)
                        runners[i] = NULL;
        free(r);
        return NULL;
}

const char *etcd_runner_url(EtcdRunner *r) {
        return r->url;
}

int etcd_runner_post(EtcdRunner *r, const char *path, const char *body, const char *token, char **ret_body) {
        char url[256];

        snprintf(url, sizeof(url), "%s%s", r->url, path);
        return http(url, body ?: "{}", token, ret_body);
}
