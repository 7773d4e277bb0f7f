/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-id128.h>
#include <time.h>

#include "basic/fileio.h"
#include "basic/json-util.h"
#include "log.h"
#include "machine.h"

#define RETRY_MIN (250 * USEC_PER_MSEC)
#define RETRY_MAX (5 * USEC_PER_SEC)

struct Presence {
        EtcdClient *etcd;
        sd_event *event;
        char *key;
        char *value;                  /* the record's JSON */
        int64_t ttl;
        char *lease_file;
        int64_t lease_id;
        PresenceState state;
        usec_t retry_delay;

        EtcdRequest *request;         /* the one step in flight */
        EtcdLease *keeper;
        EtcdWatch *watch;
        sd_event_source *retry;

        presence_change_t on_change;
        void *userdata;
};

static void presence_ensure_lease(Presence *p);

int machine_id_read(const char *path, char ret[static MACHINE_ID_LEN + 1]) {
        char buf[MACHINE_ID_LEN + 3] = {};
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[strcspn(buf, "\n")] = 0;
        if (!machine_id_is_valid(buf))
                return -EBADMSG;
        memcpy(ret, buf, MACHINE_ID_LEN + 1);
        return 0;
}

/* Takes "http://host:port/..." or "https://[v6]:port" apart into host and port. */
static int url_host_port(const char *url, char **ret_host, char **ret_port) {
        const char *s = startswith(url, "http://") ?: startswith(url, "https://");
        if (!s)
                return -EINVAL;

        size_t hl;
        const char *rest;
        if (*s == '[') {
                const char *close = strchr(s, ']');
                if (!close)
                        return -EINVAL;
                s++;
                hl = close - s;
                rest = close + 1;
        } else {
                hl = strcspn(s, ":/");
                rest = s + hl;
        }
        const char *port = *rest == ':' ? rest + 1 : (startswith(url, "https://") ? "443" : "80");
        *ret_host = strndup(s, hl);
        *ret_port = strndup(port, strcspn(port, "/"));
        if (!*ret_host || !*ret_port) {
                free(*ret_host);
                free(*ret_port);
                return -ENOMEM;
        }
        return 0;
}

static int ip_towards(const char *url, char **ret) {
        _cleanup_free_ char *host = NULL, *port = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        int r;

        r = url_host_port(url, &host, &port);
        if (r < 0)
                return r;
        if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
                return -EHOSTUNREACH;

        struct sockaddr_storage local;
        socklen_t len = sizeof(local);
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        r = fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            getsockname(fd, (struct sockaddr *) &local, &len) < 0 ? -errno : 0;
        if (fd >= 0)
                close(fd);
        freeaddrinfo(ai);
        if (r < 0)
                return r;

        char buf[INET6_ADDRSTRLEN];
        const void *addr = local.ss_family == AF_INET ? (const void *) &((struct sockaddr_in *) &local)->sin_addr
                                                      : (const void *) &((struct sockaddr_in6 *) &local)->sin6_addr;
        if (!inet_ntop(local.ss_family, addr, buf, sizeof(buf)))
                return -errno;
        /* Reaching etcd over loopback says nothing about how other hosts reach us. */
        if (startswith(buf, "127.") || streq(buf, "::1"))
                return -EADDRNOTAVAIL;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int ip_first_interface(char **ret) {
        struct ifaddrs *ifs;
        char buf[INET_ADDRSTRLEN];
        int r = -EADDRNOTAVAIL;

        if (getifaddrs(&ifs) < 0)
                return -errno;
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
                    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
                        continue;
                if (inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, buf, sizeof(buf))) {
                        *ret = strdup(buf);
                        r = *ret ? 0 : -ENOMEM;
                        break;
                }
        }
        freeifaddrs(ifs);
        return r;
}

int machine_detect_ip(const char *url, char **ret) {
        if (url && ip_towards(url, ret) >= 0)
                return 0;
        return ip_first_interface(ret);
}

/* The TCP API's address for other machines, "https://IP:PORT", from api_listen "HOST:PORT": a
 * wildcard host (0.0.0.0, ::) means this machine's ip; a named one is where it listens. */
static int machine_api_url(const char *listen, const char *ip, char **ret) {
        _cleanup_free_ char *host = NULL;
        uint16_t port;
        int r;

        r = parse_host_port(listen, &host, &port);
        if (r < 0)
                return r;
        const char *h = isempty(host) || streq(host, "0.0.0.0") || streq(host, "::") ? ip : host;
        if (asprintf(ret, strchr(h, ':') ? "https://[%s]:%u" : "https://%s:%u", h, (unsigned) port) < 0)
                return -ENOMEM;
        return 0;
}

/* This boot's id and Zincati's FleetLock id of this host (its app-specific machine id for
 * FLEETLOCK_APP_ID, from /etc/machine-id as Zincati derives it), 32 hex digits each; NULL when
 * the system cannot tell. */
static int machine_local_ids(MachineRecord *m) {
        char buf[SD_ID128_STRING_MAX];
        sd_id128_t id, app;
        int r;

        r = sd_id128_get_boot(&id);
        if (r >= 0 && !(m->boot_id = strdup(sd_id128_to_string(id, buf))))
                return -ENOMEM;
        if (r < 0)
                log_debug_errno(r, "Failed to read the boot id: %m");
        r = sd_id128_from_string(FLEETLOCK_APP_ID, &app);
        if (r >= 0)
                r = sd_id128_get_machine_app_specific(app, &id);
        if (r >= 0 && !(m->fleetlock_id = strdup(sd_id128_to_string(id, buf))))
                return -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to derive this machine's FleetLock id from /etc/machine-id: %m");
        return 0;
}

int machine_record_local(const Config *config, const char *machine_id, MachineRecord *ret) {
        _cleanup_(machine_record_done) MachineRecord m = {};
        char host[256] = {};
        int r;

        if (!machine_id_is_valid(machine_id))
                return -EINVAL;
        strcpy(m.id, machine_id);

        if (gethostname(host, sizeof(host) - 1) < 0)
                return -errno;
        m.hostname = strdup(host);
        m.version = strdup(FLEETD_VERSION);
        if (!m.hostname || !m.version)
                return -ENOMEM;

        if (config->public_ip)
                m.ip = strdup(config->public_ip);
        else {
                r = machine_detect_ip(config->etcd_servers ? config->etcd_servers[0] : NULL, &m.ip);
                if (r < 0)
                        return r;
        }
        if (!m.ip)
                return -ENOMEM;
        if (config->api_listen) {
                r = machine_api_url(config->api_listen, m.ip, &m.api);
                if (r < 0)
                        return r;
        }

        m.metadata = calloc(config->n_metadata + 1, sizeof(MetadataPair));
        if (!m.metadata)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_metadata; i++, m.n_metadata++) {
                m.metadata[i].key = strdup(config->metadata[i].key);
                m.metadata[i].value = strdup(config->metadata[i].value);
                if (!m.metadata[i].key || !m.metadata[i].value) {
                        m.n_metadata++;
                        return -ENOMEM;
                }
        }

        long cpus = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES);
        m.cpu_millis = cpus > 0 ? (uint64_t) cpus * 1000 : 0;
        m.memory_bytes = pages > 0 ? (uint64_t) pages * (uint64_t) sysconf(_SC_PAGESIZE) : 0;
        m.state = MACHINE_ACTIVE;
        r = machine_local_ids(&m);
        if (r < 0)
                return r;

        *ret = m;
        m = (MachineRecord) {};
        return 0;
}

/* --- presence --- */

static void presence_set_state(Presence *p, PresenceState s) {
        if (p->state == s)
                return;
        p->state = s;
        if (p->on_change)
                p->on_change(p, s, p->userdata);
}

static int64_t lease_file_read(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[32] = {};

        if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
                return 0;
        return strtoll(buf, NULL, 10);
}

static void lease_file_write(Presence *p) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%" PRIi64 "\n", p->lease_id);
        int r = write_file_atomic(p->lease_file, buf, (size_t) n, 0600);

        if (r < 0)
                log_debug_errno(r, "Failed to remember lease in %s: %m", p->lease_file);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        presence_ensure_lease(userdata);
        return 0;
}

/* Something failed: forget the step in flight and start over from the lease after a delay
 * that doubles up to RETRY_MAX. */
static void presence_retry(Presence *p, int error, const char *what) {
        p->request = etcd_request_cancel(p->request);
        p->keeper = etcd_lease_free(p->keeper);
        p->watch = etcd_watch_free(p->watch);
        presence_set_state(p, PRESENCE_CONNECTING);

        log_full_errno(p->retry_delay >= RETRY_MAX ? LOG_WARNING : LOG_INFO, error,
                       "Failed to %s, retrying in %" PRIu64 " ms: %m", what, p->retry_delay / USEC_PER_MSEC);
        sd_event_source_unref(p->retry);
        p->retry = NULL;
        if (sd_event_add_time_relative(p->event, &p->retry, CLOCK_MONOTONIC, p->retry_delay, 0, on_retry, p) < 0)
                log_error("Failed to arm retry timer; presence stays down.");
        p->retry_delay = MIN(p->retry_delay * 2, RETRY_MAX);
}

static void on_lease_lost(EtcdLease *l, void *userdata) {
        Presence *p = userdata;

        log_warning("Lease %" PRIx64 " expired (etcd unreachable longer than the TTL?); registering again.",
                    (uint64_t) p->lease_id);
        p->lease_id = 0;
        p->keeper = etcd_lease_free(p->keeper);
        p->watch = etcd_watch_free(p->watch);
        presence_set_state(p, PRESENCE_CONNECTING);
        presence_ensure_lease(p);
}

static void on_own_key(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        Presence *p = userdata;

        if (error < 0)
                return presence_retry(p, error, "watch the machine key");
        for (size_t i = 0; i < n; i++)
                if (events[i].type == ETCD_EVENT_DELETE) {
                        /* Deleted by someone, or our lease expired: find out which and write it again. */
                        log_info("Machine key %s was removed; registering again.", p->key);
                        p->watch = etcd_watch_free(p->watch);
                        presence_ensure_lease(p);
                        return;
                }
}

static void on_put(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Presence *p = userdata;
        int r;

        p->request = etcd_request_cancel(p->request);
        if (error < 0)
                return presence_retry(p, error, "write the machine key");

        p->keeper = etcd_lease_free(p->keeper);
        r = etcd_lease_keep(p->etcd, p->lease_id, p->ttl, on_lease_lost, p, &p->keeper);
        if (r >= 0)
                r = etcd_client_watch(p->etcd, p->key, NULL, result->revision + 1, on_own_key, p, &p->watch);
        if (r < 0)
                return presence_retry(p, r, "keep the lease alive");

        p->retry_delay = RETRY_MIN;
        log_info("Registered as %s at %s (lease %" PRIx64 ", ttl %" PRIi64 "s).",
                 p->key, etcd_client_current_endpoint(p->etcd), (uint64_t) p->lease_id, p->ttl);
        presence_set_state(p, PRESENCE_REGISTERED);
}

static void presence_put(Presence *p) {
        int r = etcd_client_put(p->etcd, p->key, p->value, p->lease_id, on_put, p, &p->request);
        if (r < 0)
                presence_retry(p, r, "write the machine key");
}

static void on_grant(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Presence *p = userdata;

        p->request = etcd_request_cancel(p->request);
        if (error < 0)
                return presence_retry(p, error, "grant a lease");
        p->lease_id = result->lease_id;
        lease_file_write(p);
        presence_put(p);
}

static void on_adopt(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Presence *p = userdata;
        int r;

        p->request = etcd_request_cancel(p->request);
        if (error == -ENOENT || (error >= 0 && result->ttl <= 0)) {
                /* Gone: grant a fresh one. */
                p->lease_id = 0;
                r = etcd_client_lease_grant(p->etcd, p->ttl, on_grant, p, &p->request);
                if (r < 0)
                        presence_retry(p, r, "grant a lease");
                return;
        }
        if (error < 0)
                return presence_retry(p, error, "refresh the lease");
        presence_put(p);
}

/* The first step of registering: keep the lease we have (or had before a restart) if etcd
 * still knows it, else grant a new one. Then write the key, keep the lease, watch the key. */
static void presence_ensure_lease(Presence *p) {
        int r;

        p->retry = sd_event_source_unref(p->retry);
        p->request = etcd_request_cancel(p->request);
        if (p->lease_id > 0)
                r = etcd_client_lease_keepalive(p->etcd, p->lease_id, on_adopt, p, &p->request);
        else
                r = etcd_client_lease_grant(p->etcd, p->ttl, on_grant, p, &p->request);
        if (r < 0)
                presence_retry(p, r, "start registering");
}

int presence_new(sd_event *event, EtcdClient *etcd, const char *prefix, const MachineRecord *record, int64_t ttl_sec,
                 const char *state_dir, presence_change_t on_change, void *userdata, Presence **ret) {
        _cleanup_(presence_freep) Presence *p = NULL;
        json_auto_t *j = NULL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->etcd = etcd;
        p->ttl = ttl_sec;
        p->on_change = on_change;
        p->userdata = userdata;
        p->retry_delay = RETRY_MIN;
        p->state = PRESENCE_CONNECTING;

        p->event = sd_event_ref(event);
        j = machine_record_to_json(record);
        p->key = registry_key(prefix, "machines", record->id, NULL);
        p->value = j ? jx_dumps(j) : NULL;
        if (!p->key || !p->value || asprintf(&p->lease_file, "%s/lease", state_dir) < 0)
                return -ENOMEM;

        p->lease_id = lease_file_read(p->lease_file);
        presence_ensure_lease(p);
        *ret = TAKE_PTR(p);
        return 0;
}

Presence *presence_free(Presence *p) {
        if (!p)
                return NULL;
        etcd_request_cancel(p->request);
        etcd_lease_free(p->keeper);
        etcd_watch_free(p->watch);
        sd_event_source_unref(p->retry);
        sd_event_unref(p->event);
        free(p->key);
        free(p->value);
        free(p->lease_file);
        free(p);
        return NULL;
}

PresenceState presence_state(Presence *p) {
        return p->state;
}

int64_t presence_lease(Presence *p) {
        return p->lease_id;
}
