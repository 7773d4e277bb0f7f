/* SPDX-License-Identifier: Apache-2.0 */
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/base64.h"
#include "basic/macros.h"
#include "router-harness.h"

#define MAX_CHILDREN 64

static pid_t children[MAX_CHILDREN];
static CURL *http_handle;
static bool http_fresh;

static void children_cleanup(void) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0) {
                        (void) kill(children[i], SIGKILL);
                        (void) waitpid(children[i], NULL, 0);
                        children[i] = 0;
                }
        harness_http_reset();
}

static int child_register(pid_t pid) {
        static bool registered = false;

        if (!registered) {
                if (atexit(children_cleanup) != 0)
                        return -ENOMEM;
                registered = true;
        }
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == 0) {
                        children[i] = pid;
                        return 0;
                }
        return -EMFILE;
}

static void child_forget(pid_t pid) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

int harness_free_port(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        return ntohs(sa.sin_port);
}

static _noreturn_ void exec_child(char * const *argv, char * const *env, const char *log_path, pid_t parent) {
        sigset_t none;
        int fd;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(EXIT_FAILURE);
        /* The test may block signals for its own loop; the child starts clean. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                (void) dup2(fd, STDIN_FILENO);
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
                (void) dup2(fd, STDOUT_FILENO);
                (void) dup2(fd, STDERR_FILENO);
        }
        for (char * const *e = env; e && *e; e++) {
                /* "WATCHDOG_PID=$$": the child's own pid, which only it knows before exec */
                if (streq(*e, "WATCHDOG_PID=$$")) {
                        char pid[32];
                        snprintf(pid, sizeof(pid), "%d", (int) getpid());
                        (void) setenv("WATCHDOG_PID", pid, 1);
                } else
                        (void) putenv(*e);
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %m\n", argv[0]);
        _exit(127);
}

pid_t harness_spawn(char * const *argv, char * const *env, const char *log_path) {
        pid_t parent = getpid(), pid;
        int r;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_child(argv, env, log_path, parent);
        r = child_register(pid);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        return pid;
}

bool harness_exited(pid_t pid, int *ret_status) {
        int status = 0;

        if (waitpid(pid, &status, WNOHANG) != pid)
                return false;
        child_forget(pid);
        if (ret_status)
                *ret_status = status;
        return true;
}

int harness_stop(pid_t pid, int sig, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        int status = 0;

        if (kill(pid, sig) < 0)
                return -errno;
        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                if (harness_exited(pid, &status))
                        return status;
                (void) usleep(10 * 1000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        child_forget(pid);
        return -ETIMEDOUT;
}

static _noreturn_ void notify_reader(int fd, const char *log_path) {
        int out;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0)
                _exit(EXIT_FAILURE);
        for (;;) {
                char buf[4096];
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

                if (n < 0 && errno != EINTR)
                        _exit(EXIT_FAILURE);
                if (n <= 0)
                        continue;
                /* one line per message: its lines joined with blanks */
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] == '\n')
                                buf[i] = ' ';
                buf[n++] = '\n';
                if (write(out, buf, (size_t) n) != n)
                        _exit(EXIT_FAILURE);
        }
}

pid_t harness_notify_start(const char *path, const char *log_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -EINVAL;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                notify_reader(fd, log_path);
        r = child_register(pid);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        return pid;
}

unsigned harness_notify_count(const char *log_path, const char *what) {
        _cleanup_free_ char *text = harness_read_file(log_path);
        unsigned n = 0;

        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');

                if (memmem(line, end - line, what, strlen(what)))
                        n++;
                line = *end ? end + 1 : end;
        }
        return n;
}

int harness_notify_wait(const char *log_path, const char *what, unsigned n, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;

        while (harness_notify_count(log_path, what) < n) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                (void) usleep(10 * 1000);
        }
        return 0;
}

int harness_write_file(const char *path, const char *text, bool executable) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0755 : 0644);
        size_t n = strlen(text);

        if (fd < 0)
                return -errno;
        if (write(fd, text, n) != (ssize_t) n)
                return -EIO;
        return 0;
}

char *harness_read_file(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return NULL;
        if (getdelim(&text, &size, '\0', f) < 0) {
                free(text);
                text = NULL;
        }
        fclose(f);
        return text;
}

unsigned harness_count_lines(const char *path) {
        _cleanup_free_ char *text = harness_read_file(path);
        unsigned n = 0;

        for (const char *p = text; p && *p; p++)
                n += *p == '\n';
        return n;
}

/* {"key": b64, "value": b64} (value NULL: key only) into *ret. */
static int kv_json(const char *key, const char *value, char **ret) {
        _cleanup_free_ char *k = NULL, *v = NULL;

        if (base64_encode(key, strlen(key), &k) < 0 || (value && base64_encode(value, strlen(value), &v) < 0))
                return -ENOMEM;
        if (value ? asprintf(ret, "{\"key\": \"%s\", \"value\": \"%s\"}", k, v) < 0
                  : asprintf(ret, "{\"key\": \"%s\"}", k) < 0)
                return -ENOMEM;
        return 0;
}

static int post_ok(EtcdRunner *etcd, const char *path, const char *body) {
        int r = etcd_runner_post(etcd, path, body, NULL, NULL);

        return r == 200 ? 0 : r < 0 ? r : -EIO;
}

int harness_put(EtcdRunner *etcd, const char *key, const char *value) {
        _cleanup_free_ char *body = NULL;

        if (kv_json(key, value, &body) < 0)
                return -ENOMEM;
        return post_ok(etcd, "/v3/kv/put", body);
}

int harness_delete(EtcdRunner *etcd, const char *key) {
        _cleanup_free_ char *body = NULL;

        if (kv_json(key, NULL, &body) < 0)
                return -ENOMEM;
        return post_ok(etcd, "/v3/kv/deleterange", body);
}

int harness_put_many(EtcdRunner *etcd, const char * const *keys, const char * const *values, size_t n) {
        _cleanup_free_ char *body = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&body, &size);
        int r = 0;

        if (!f)
                return -ENOMEM;
        fputs("{\"success\": [", f);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *kv = NULL;

                r = kv_json(keys[i], values[i], &kv);
                if (r >= 0)
                        fprintf(f, "%s{\"requestPut\": %s}", i ? ", " : "", kv);
        }
        fputs("]}", f);
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        return post_ok(etcd, "/v3/kv/txn", body);
}

int harness_compact(EtcdRunner *etcd) {
        _cleanup_free_ char *answer = NULL, *body = NULL;
        const char *rev;
        int r;

        /* The current revision is in any answer's header. */
        r = etcd_runner_post(etcd, "/v3/kv/range", "{\"key\": \"AA==\"}", NULL, &answer);
        if (r != 200)
                return -EIO;
        rev = answer ? strstr(answer, "\"revision\":\"") : NULL;
        if (!rev)
                return -EBADMSG;
        rev += strlen("\"revision\":\"");
        if (asprintf(&body, "{\"revision\": %lld, \"physical\": true}", strtoll(rev, NULL, 10)) < 0)
                return -ENOMEM;
        return post_ok(etcd, "/v3/kv/compaction", body);
}

int harness_route(const char *prefix, const char *app, unsigned i, unsigned port, char **ret_key, char **ret_value) {
        if (asprintf(ret_key, "%sroutes/%s/%s_v1.web@%u.service", prefix, app, app, i) < 0)
                return -ENOMEM;
        if (asprintf(ret_value,
                     "{\"app\": \"%s\", \"unit\": \"%s_v1.web@%u.service\", \"host\": \"127.0.0.1\", "
                     "\"port\": %u, \"release\": 1, \"process\": \"web\", "
                     "\"machine\": \"0123456789abcdef0123456789abcdef\"}",
                     app, app, i, port) < 0) {
                free(*ret_key);
                return -ENOMEM;
        }
        return 0;
}

int harness_http_get(int port, const char *host, char **ret_body) {
        _cleanup_free_ char *answer = NULL, *url = NULL, *header = NULL;
        struct curl_slist *headers = NULL;
        long status = 0;
        CURLcode cc;

        if (!http_handle) {
                http_handle = curl_easy_init();
                if (!http_handle)
                        return -ENOMEM;
        }
        if (asprintf(&url, "http://127.0.0.1:%d/", port) < 0 || asprintf(&header, "Host: %s", host) < 0)
                return -ENOMEM;
        headers = curl_slist_append(NULL, header);
        (void) curl_easy_setopt(http_handle, CURLOPT_URL, url);
        (void) curl_easy_setopt(http_handle, CURLOPT_PROXY, "");
        (void) curl_easy_setopt(http_handle, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(http_handle, CURLOPT_TIMEOUT_MS, 5000L);
        (void) curl_easy_setopt(http_handle, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(http_handle, CURLOPT_WRITEFUNCTION, etcd_runner_collect);
        (void) curl_easy_setopt(http_handle, CURLOPT_WRITEDATA, &answer);
        (void) curl_easy_setopt(http_handle, CURLOPT_FRESH_CONNECT, http_fresh ? 1L : 0L);
        (void) curl_easy_setopt(http_handle, CURLOPT_FORBID_REUSE, http_fresh ? 1L : 0L);
        cc = curl_easy_perform(http_handle);
        if (cc == CURLE_OK)
                (void) curl_easy_getinfo(http_handle, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_setopt(http_handle, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(headers);
        if (cc != CURLE_OK)
                return -ECONNREFUSED;
        if (ret_body)
                *ret_body = answer ? TAKE_PTR(answer) : strdup("");
        return (int) status;
}

void harness_http_set_fresh(bool fresh) {
        http_fresh = fresh;
}

void harness_http_reset(void) {
        if (http_handle)
                curl_easy_cleanup(http_handle);
        http_handle = NULL;
}

static bool port_answers(int port) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        return fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
}

pid_t harness_backend_start(int port, const char *dir, const char *log_path) {
        char listen[64], portstr[16];
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        pid_t pid;

        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        snprintf(portstr, sizeof(portstr), "%d", port);
        if (access("/usr/bin/busybox", X_OK) == 0) {
                char *argv[] = { (char *) "/usr/bin/busybox", (char *) "httpd", (char *) "-f", (char *) "-p", listen,
                                 (char *) "-h", (char *) dir, NULL };
                pid = harness_spawn(argv, NULL, log_path);
        } else if (access("/usr/bin/python3", X_OK) == 0) {
                char *argv[] = { (char *) "/usr/bin/python3", (char *) "-m", (char *) "http.server", (char *) "--bind",
                                 (char *) "127.0.0.1", (char *) "--directory", (char *) dir, portstr, NULL };
                pid = harness_spawn(argv, NULL, log_path);
        } else
                return -ENOENT;
        if (pid < 0)
                return pid;

        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                if (port_answers(port))
                        return pid;
                if (harness_exited(pid, NULL))
                        return -ECHILD;
                (void) usleep(20 * 1000);
        }
        (void) harness_stop(pid, SIGKILL, USEC_PER_SEC);
        return -ETIMEDOUT;
}
