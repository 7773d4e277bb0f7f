/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/units/<name>/status and /journal, answered here or forwarded to the owning fleetd.
 *
 * From the top: the journal line formatter (pure); finding the owner (etcd: state/<name>, then
 * machines/<id>); the local answers (systemd over sd-bus, sd-journal on the event loop); the
 * forwarding (one libcurl transfer per forwarded request on the loop's CurlGlue, its answer
 * streamed back through the API server with back-pressure both ways). */
#include <curl/curl.h>
#include <stdio.h>
#include <strings.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "api-remote.h"
#include "curl-glue.h"
#include "log.h"
#include "manager.h"
#include "unit-name.h"

#define JOURNAL_LINES_DEFAULT   10u
#define JOURNAL_LINES_MAX       10000u
#define FOLLOWS_MAX             32u
#define JOURNAL_BATCH           256u      /* entries written per turn of the event loop */
#define PROXY_CONNECT_TIMEOUT_MS 5000L
#define PROXY_TIMEOUT_MS        60000L    /* a whole answer, unless following */
#define PROXY_HEADER            "X-Fleetd-Proxied"

/* Journal follows open in this process, served here or forwarded: each holds a connection and
 * a journal or a connection to another fleetd for as long as its client wants. */
static unsigned follows_open;

/* ---- the journal line (pure) ---- */

/* Printable UTF-8, as journalctl means it: no control characters but newline and tab. */
static bool text_is_printable(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        while (p < end) {
                unsigned k;
                uint32_t cp;

                if (*p < 0x80) {
                        if ((*p < ' ' && *p != '\n' && *p != '\t') || *p == 0x7F)
                                return false;
                        p++;
                        continue;
                }
                if ((*p & 0xE0) == 0xC0)
                        k = 1, cp = *p & 0x1F;
                else if ((*p & 0xF0) == 0xE0)
                        k = 2, cp = *p & 0x0F;
                else if ((*p & 0xF8) == 0xF0)
                        k = 3, cp = *p & 0x07;
                else
                        return false;
                if ((size_t) (end - p) <= k)
                        return false;
                for (unsigned i = 1; i <= k; i++) {
                        if ((p[i] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3F);
                }
                if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
                    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
                        return false;
                p += k + 1;
        }
        return true;
}

/* Writes the message, each continuation line indented to column indent. */
static void put_message(FILE *f, const char *m, size_t n, int indent) {
        while (n > 0 && m[n - 1] == '\n')
                n--;
        for (size_t i = 0; i < n; i++) {
                fputc(m[i], f);
                if (m[i] == '\n')
                        fprintf(f, "%*s", indent, "");
        }
}

int journal_line_format(const JournalLine *line, char **ret) {
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        const char *ident = line->syslog_identifier ?: line->comm ?: "unknown";
        const char *pid = line->pid ?: line->syslog_pid;
        time_t t = (time_t) (line->realtime_usec / USEC_PER_SEC);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        struct tm tm;
        FILE *f;
        int n;

        if (!localtime_r(&t, &tm))
                return -ERANGE;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        n = fprintf(f, "%s %02d %02d:%02d:%02d%s%s %s", months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
                    tm.tm_sec, line->hostname ? " " : "", strempty(line->hostname), ident);
        if (pid)
                n += fprintf(f, "[%s]", pid);
        n += fprintf(f, ": ");
        if (!line->message)
                ;
        else if (text_is_printable(line->message, line->message_size))
                put_message(f, line->message, line->message_size, n);
        else
                fprintf(f, "[%zuB blob data]", line->message_size);
        fputc('\n', f);
        if (fclose(f) != 0 || !text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

/* ---- finding the unit's machine ---- */

typedef enum RemoteKind {
        REMOTE_STATUS,
        REMOTE_JOURNAL,
} RemoteKind;

/* One request on its way: from the lookup to the local answer or the forwarding. */
typedef struct UnitQuery {
        Manager *m;
        ApiRequest *req;
        RemoteKind kind;
        const char *name;             /* the request's arg */
        unsigned lines;
        bool follow;
        bool counted;                 /* holds one of follows_open */
        char machine[MACHINE_ID_LEN + 1];
} UnitQuery;

static UnitQuery *unit_query_free(UnitQuery *q) {
        if (!q)
                return NULL;
        if (q->counted)
                follows_open--;
        free(q);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitQuery *, unit_query_free);

static void status_local(UnitQuery *q);
static void journal_local(UnitQuery *q);
static void proxy_start(UnitQuery *q, const char *api);

static void on_owner_machine(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_(unit_query_freep) UnitQuery *q = userdata;
        _cleanup_(machine_record_done) MachineRecord rec = {};
        json_auto_t *raw = NULL;

        if (error < 0) {
                api_request_reply_etcd_error(q->req, error);
                return;
        }
        if (result->n_kvs == 0) {
                api_request_reply_error(q->req, 502, "bad_gateway",
                                        "Unit %s runs on machine %s, which is not registered (any more).", q->name,
                                        q->machine);
                return;
        }
        raw = json_loads(result->kvs[0].value, 0, NULL);
        if (machine_record_from_json(raw, &rec) < 0) {
                api_request_reply_error(q->req, 502, "bad_gateway", "Machine %s's record in etcd is malformed.",
                                        q->machine);
                return;
        }
        if (isempty(rec.api)) {
                api_request_reply_error(q->req, 502, "bad_gateway",
                                        "Unit %s runs on machine %s (%s), whose API is not reachable: it has no TCP "
                                        "API (api_listen with TLS is not configured there).",
                                        q->name, q->machine, strna(rec.hostname));
                return;
        }
        proxy_start(TAKE_PTR(q), rec.api);
}

/* The unit runs on another machine: forward to its fleetd, if this one can authenticate. */
static void owner_remote(UnitQuery *q) {
        const Config *c = q->m->config;
        _cleanup_free_ char *key = NULL;
        int r;

        if (api_request_header(q->req, PROXY_HEADER)) {
                api_request_reply_error(q->req, 409, "conflict",
                                        "Unit %s runs on machine %s, not here: it moved while the request was "
                                        "forwarded; try again.", q->name, q->machine);
                unit_query_free(q);
                return;
        }
        if (!c->api_tls_cert || !c->api_tls_key || !c->api_client_ca) {
                api_request_reply_error(q->req, 502, "bad_gateway",
                                        "Unit %s runs on machine %s; this machine cannot reach its API: it has no "
                                        "client certificate (api_tls_cert, api_tls_key, api_client_ca).",
                                        q->name, q->machine);
                unit_query_free(q);
                return;
        }

        key = registry_key(c->etcd_key_prefix, "machines", q->machine, NULL);
        EtcdRangeArgs args = { .key = key };
        r = key ? etcd_client_range(q->m->etcd, &args, on_owner_machine, q, NULL) : -ENOMEM;
        if (r < 0) {
                api_request_reply_etcd_error(q->req, r);
                unit_query_free(q);
        }
}

static void on_unit_state(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        UnitQuery *q = userdata;
        _cleanup_(state_record_done) StateRecord s = {};
        json_auto_t *raw = NULL;

        if (error < 0) {
                api_request_reply_etcd_error(q->req, error);
                unit_query_free(q);
                return;
        }
        /* state/<name>/<machine>: a global unit has one per machine. ?machine=ID (or a prefix)
         * picks one; else this machine's if it runs the unit here, else the first. */
        const char *want = api_request_query(q->req, "machine");
        for (size_t i = 0; i < result->n_kvs; i++) {
                _cleanup_(state_record_done) StateRecord cand = {};
                json_auto_t *j = json_loads(result->kvs[i].value, 0, NULL);
                if (state_record_from_json(j, &cand) < 0 || (want && !startswith(cand.machine, want)))
                        continue;
                if (!raw || streq(cand.machine, q->m->self.id)) {
                        json_decref(raw);
                        raw = json_incref(j);
                }
        }
        if (!raw || state_record_from_json(raw, &s) < 0) {
                api_request_reply_error(q->req, 404, "not_found", "Unit %s is not running on %s.", q->name,
                                        want ? "that machine" : "any machine");
                unit_query_free(q);
                return;
        }
        memcpy(q->machine, s.machine, sizeof(q->machine));

        if (!streq(q->machine, q->m->self.id))
                owner_remote(q);
        else if (q->kind == REMOTE_STATUS)
                status_local(q);
        else
                journal_local(q);
}

static int unit_query_start(UnitQuery *q) {
        _cleanup_free_ char *key = registry_key(q->m->config->etcd_key_prefix, "state", q->name, "", NULL);
        _cleanup_free_ char *end = key ? etcd_prefix_end(key) : NULL;

        if (!end)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(q->m->etcd, &args, on_unit_state, q, NULL);
}

static int unit_query_new(ApiRequest *req, Manager *m, RemoteKind kind, UnitQuery **ret) {
        const char *name = api_request_arg(req, 0);
        UnitQuery *q;

        if (!unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE)) {
                api_request_reply_error(req, 404, "not_found", "No unit %s.", name);
                return 0;
        }
        q = calloc(1, sizeof(UnitQuery));
        if (!q)
                return -ENOMEM;
        q->m = m;
        q->req = req;
        q->kind = kind;
        q->name = name;
        *ret = q;
        return 1;
}

int api_remote_get_status(ApiRequest *req, void *userdata) {
        _cleanup_(unit_query_freep) UnitQuery *q = NULL;
        int r;

        r = unit_query_new(req, userdata, REMOTE_STATUS, &q);
        if (r <= 0)
                return r;
        r = unit_query_start(q);
        if (r < 0)
                return r;
        TAKE_PTR(q);
        return 0;
}

/* ?lines=N (0..10000) and ?follow[=1|true|0|false]; replies 400 itself and returns false if
 * they are bad. */
static bool journal_parse_query(UnitQuery *q) {
        const char *lines = api_request_query(q->req, "lines"), *follow = api_request_query(q->req, "follow");
        char *end;

        q->lines = JOURNAL_LINES_DEFAULT;
        if (lines) {
                unsigned long n;
                errno = 0;
                n = strtoul(lines, &end, 10);
                if (errno || end == lines || *end || lines[0] == '-' || n > JOURNAL_LINES_MAX) {
                        api_request_reply_error(q->req, 400, "bad_request", "lines must be a number from 0 to %u.",
                                                JOURNAL_LINES_MAX);
                        return false;
                }
                q->lines = (unsigned) n;
        }
        if (!follow || streq(follow, "0") || streq(follow, "false"))
                q->follow = false;
        else if (streq(follow, "") || streq(follow, "1") || streq(follow, "true"))
                q->follow = true;
        else {
                api_request_reply_error(q->req, 400, "bad_request", "follow must be 1 or 0.");
                return false;
        }
        return true;
}

int api_remote_get_journal(ApiRequest *req, void *userdata) {
        _cleanup_(unit_query_freep) UnitQuery *q = NULL;
        int r;

        r = unit_query_new(req, userdata, REMOTE_JOURNAL, &q);
        if (r <= 0)
                return r;
        if (!journal_parse_query(q))
                return 0;
        if (q->follow) {
                if (follows_open >= FOLLOWS_MAX)
                        return api_request_reply_error(req, 503, "busy",
                                                       "%u journal follows are open on this machine already; "
                                                       "try again later.", FOLLOWS_MAX);
                follows_open++;
                q->counted = true;
        }
        r = unit_query_start(q);
        if (r < 0)
                return r;
        TAKE_PTR(q);
        return 0;
}

/* ---- the local status ---- */

static void on_status_described(SystemdBackend *b, const char *unit, int error, json_t *properties,
                                void *userdata) {
        _cleanup_(unit_query_freep) UnitQuery *q = userdata;
        json_auto_t *j = NULL;

        if (error == -ECANCELED) {
                api_request_reply_error(q->req, 503, "unavailable", "The agent stopped.");
                return;
        }
        if (error < 0) {
                api_request_reply_error(q->req, 500, "internal", "Failed to ask systemd about %s: %s", q->name,
                                        strerror(-error));
                return;
        }
        j = json_copy(properties);
        if (!j || json_object_set_new(j, "machine", json_string(q->machine)) < 0) {
                api_request_reply_error(q->req, 500, "internal", "Failed to build the status of %s.", q->name);
                return;
        }
        api_request_reply_json(q->req, 200, j);
}

/* Answers from this machine's systemd, when its answer arrives. */
static void status_local(UnitQuery *q) {
        SystemdBackend *b = q->m->agent ? agent_backend(q->m->agent) : NULL;
        int r;

        if (!b) {
                api_request_reply_error(q->req, 503, "unavailable", "The agent is not running yet.");
                unit_query_free(q);
                return;
        }
        r = systemd_backend_describe(b, q->name, on_status_described, q);
        if (r < 0) {
                api_request_reply_error(q->req, 500, "internal", "Failed to ask systemd about %s: %s", q->name,
                                        strerror(-r));
                unit_query_free(q);
        }
}

/* ---- the local journal ---- */

typedef struct JournalStream {
        UnitQuery *query;
        ApiRequest *req;
        sd_journal *journal;
        sd_event_source *io;          /* follow: the journal's inotify fd */
        sd_event_source *timer;       /* follow: when sd-journal wants to look again by itself */
        sd_event_source *again;       /* defer: the next batch, after the loop had its turn */
        uint64_t remaining;           /* without follow: entries still to write */
        bool on_entry;                /* the journal stands on an entry not written yet */
} JournalStream;

static JournalStream *journal_stream_free(JournalStream *js) {
        if (!js)
                return NULL;
        sd_event_source_disable_unref(js->io);
        sd_event_source_disable_unref(js->timer);
        sd_event_source_disable_unref(js->again);
        sd_journal_close(js->journal);
        unit_query_free(js->query);
        free(js);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(JournalStream *, journal_stream_free);

/* Ends the answer (error < 0: cut off) and frees js. */
static void journal_stream_end(JournalStream *js, int error) {
        if (error < 0 && error != -ECONNRESET)
                log_warning_errno(error, "Journal of %s for a client ended early: %m", js->query->name);
        api_request_stream_end(js->req, error);
        journal_stream_free(js);
}

/* A field's value ("FIELD=value") as a new string; NULL (and 0) if the entry lacks it. */
static int journal_field(sd_journal *j, const char *field, char **ret) {
        size_t fl = strlen(field), n;
        const void *data;
        int r;

        *ret = NULL;
        r = sd_journal_get_data(j, field, &data, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (n <= fl || ((const char *) data)[fl] != '=')
                return 0;
        *ret = strndup((const char *) data + fl + 1, n - fl - 1);
        return *ret ? 0 : -ENOMEM;
}

/* The entry the journal stands on, formatted. */
static int journal_entry_text(sd_journal *j, char **ret) {
        static const char * const fields[] = { "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "_PID", "SYSLOG_PID" };
        char *v[ELEMENTSOF(fields)] = {};
        _cleanup_free_ char *message = NULL;
        JournalLine line = {};
        size_t fl = strlen("MESSAGE="), n;
        const void *data;
        int r;

        r = sd_journal_get_realtime_usec(j, &line.realtime_usec);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fields); i++)
                r = journal_field(j, fields[i], &v[i]);
        /* The message may hold any bytes, NUL too: copied with its size. */
        if (r >= 0 && sd_journal_get_data(j, "MESSAGE", &data, &n) >= 0 && n >= fl) {
                message = malloc(n - fl + 1);
                if (message) {
                        memcpy(message, (const char *) data + fl, n - fl);
                        line.message = message;
                        line.message_size = n - fl;
                } else
                        r = -ENOMEM;
        }
        if (r >= 0) {
                line.hostname = v[0];
                line.syslog_identifier = v[1];
                line.comm = v[2];
                line.pid = v[3];
                line.syslog_pid = v[4];
                r = journal_line_format(&line, ret);
        }
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                free(v[i]);
        return r;
}

static int journal_stream_wait(JournalStream *js);

/* Writes entries until there are no more to write (then ends, or waits when following), the
 * client's buffer is full (then waits for API_REQUEST_DRAINED) or a batch is done (then lets
 * the loop run first: a unit that logs faster than we read must not starve fleetd). Without
 * follow it writes the entries that were there when the request came, and no more. */
static void journal_stream_pump(JournalStream *js) {
        for (unsigned n = 0;; n++) {
                _cleanup_free_ char *text = NULL;
                int r;

                if (!js->query->follow && js->remaining == 0)
                        return journal_stream_end(js, 0);
                if (n >= JOURNAL_BATCH) {
                        r = sd_event_source_set_enabled(js->again, SD_EVENT_ONESHOT);
                        if (r < 0)
                                journal_stream_end(js, r);
                        return;
                }
                if (!js->on_entry) {
                        r = sd_journal_next(js->journal);
                        if (r < 0)
                                return journal_stream_end(js, r);
                        if (r == 0) {
                                r = js->query->follow ? journal_stream_wait(js) : 0;
                                if (r < 0 || !js->query->follow)
                                        journal_stream_end(js, r);
                                return;
                        }
                        js->on_entry = true;
                }
                r = journal_entry_text(js->journal, &text);
                if (r >= 0)
                        r = api_request_stream_write(js->req, text, strlen(text));
                if (r == -ENOBUFS)
                        return;
                if (r < 0)
                        return journal_stream_end(js, r);
                js->on_entry = false;
                if (js->remaining > 0)
                        js->remaining--;
        }
}

static int on_journal_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Follow: sd-journal's fd tells of new entries; some file systems need a look now and then,
 * which sd_journal_get_timeout() asks for. */
static int journal_stream_wait(JournalStream *js) {
        uint64_t when;
        int r;

        r = sd_journal_get_timeout(js->journal, &when);
        if (r < 0)
                return r;
        if (when == UINT64_MAX)
                return sd_event_source_set_enabled(js->timer, SD_EVENT_OFF);
        r = sd_event_source_set_time(js->timer, when);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(js->timer, SD_EVENT_ONESHOT);
}

static void journal_stream_changed(JournalStream *js) {
        int r = sd_journal_process(js->journal);

        if (r < 0)
                return journal_stream_end(js, r);
        journal_stream_pump(js);
}

static int on_journal_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        journal_stream_changed(userdata);
        return 0;
}

static int on_journal_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        journal_stream_changed(userdata);
        return 0;
}

static int on_journal_again(sd_event_source *s, void *userdata) {
        journal_stream_pump(userdata);
        return 0;
}

static void on_journal_request_event(ApiRequest *req, ApiRequestEvent event, void *userdata) {
        JournalStream *js = userdata;

        if (event == API_REQUEST_CLOSED)
                journal_stream_end(js, -ECONNRESET);
        else
                journal_stream_pump(js);
}

/* The unit's own processes, and what PID 1 says about it (as `journalctl -u` shows). */
static int journal_add_matches(sd_journal *j, const char *name) {
        _cleanup_free_ char *own = NULL, *about = NULL;
        int r;

        if (asprintf(&own, "_SYSTEMD_UNIT=%s", name) < 0 || asprintf(&about, "UNIT=%s", name) < 0)
                return -ENOMEM;
        r = sd_journal_add_match(j, own, 0);
        if (r >= 0)
                r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, "_PID=1", 0);
        if (r >= 0)
                r = sd_journal_add_match(j, about, 0);
        return r;
}

/* Stands the journal on the first of the last n entries (js->remaining of them are there),
 * or on the last one, not to be shown, for n = 0. */
static int journal_seek_last(JournalStream *js, unsigned n) {
        int r;

        r = sd_journal_seek_tail(js->journal);
        if (r < 0)
                return r;
        if (n == 0) {
                /* On the last entry, which is not shown: next() moves to what comes after. */
                r = sd_journal_previous(js->journal);
                return r < 0 ? r : 0;
        }
        r = sd_journal_previous_skip(js->journal, n);
        if (r < 0)
                return r;
        js->on_entry = r > 0;
        js->remaining = (uint64_t) r;
        return 0;
}

static int journal_stream_open(JournalStream *js) {
        sd_event *e = js->query->m->event;
        int r, fd;

        r = sd_journal_open(&js->journal, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = sd_event_add_defer(e, &js->again, on_journal_again, js);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(js->again, SD_EVENT_OFF);
        (void) sd_event_source_set_description(js->again, "api-journal-batch");
        if (js->query->follow) {
                /* Before reading, so that nothing written meanwhile is missed. */
                fd = sd_journal_get_fd(js->journal);
                if (fd < 0)
                        return fd;
                r = sd_event_add_io(e, &js->io, fd, (uint32_t) sd_journal_get_events(js->journal), on_journal_io,
                                    js);
                if (r < 0)
                        return r;
                r = sd_event_add_time(e, &js->timer, CLOCK_MONOTONIC, 0, 0, on_journal_timer, js);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(js->timer, SD_EVENT_OFF);
                (void) sd_event_source_set_description(js->io, "api-journal-io");
                (void) sd_event_source_set_description(js->timer, "api-journal-timer");
        }
        r = journal_add_matches(js->journal, js->query->name);
        if (r < 0)
                return r;
        return journal_seek_last(js, js->query->lines);
}

static void journal_local(UnitQuery *q) {
        _cleanup_(journal_stream_freep) JournalStream *js = calloc(1, sizeof(JournalStream));
        int r;

        if (!js) {
                api_request_reply_error(q->req, 500, "internal", "Out of memory.");
                unit_query_free(q);
                return;
        }
        js->query = q;
        js->req = q->req;
        r = journal_stream_open(js);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the journal for %s: %m", q->name);
                api_request_reply_error(q->req, 500, "internal", "Failed to read the journal for %s: %s", q->name,
                                        strerror(-r));
                return;
        }
        r = api_request_stream_begin(js->req, 200, "text/plain; charset=utf-8");
        if (r >= 0)
                r = api_request_set_event_handler(js->req, on_journal_request_event, js);
        if (r < 0) {
                if (api_request_reply_error(q->req, 500, "internal", "%s", strerror(-r)) == -EALREADY)
                        api_request_stream_end(q->req, r);
                return;
        }
        journal_stream_pump(TAKE_PTR(js));
}

/* ---- forwarding to the owner's fleetd ---- */

typedef struct RemoteProxy {
        Manager *m;
        UnitQuery *query;             /* the unit request it serves; NULL for api_remote_forward() */
        ApiRequest *req;
        char machine[MACHINE_ID_LEN + 1];
        bool follow;                  /* no overall timeout */
        char *url;
        char *body;                   /* POSTed; NULL: a GET */
        CurlGlue *glue;               /* the loop's, shared with the etcd client */
        CURL *easy;
        struct curl_slist *headers;
        char *content_type;           /* of the owner's answer */
        bool began;                   /* our answer (a stream) has begun */
        bool paused;                  /* curl waits for room in our answer */
        char error[CURL_ERROR_SIZE];
} RemoteProxy;

static RemoteProxy *proxy_free(RemoteProxy *p) {
        if (!p)
                return NULL;
        curl_glue_remove_and_free(p->glue, p->easy);
        curl_glue_unref(p->glue);
        curl_slist_free_all(p->headers);
        unit_query_free(p->query);
        free(p->url);
        free(p->body);
        free(p->content_type);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(RemoteProxy *, proxy_free);

/* Finishes our answer after the owner's ended (cc) and frees p. */
static void proxy_done(RemoteProxy *p, CURLcode cc) {
        if (p->began)
                api_request_stream_end(p->req, cc == CURLE_OK ? 0 : -EIO);
        else
                api_request_reply_error(p->req, 502, "bad_gateway", "Machine %s's API at %s did not answer: %s",
                                        p->machine, p->url,
                                        cc == CURLE_OK ? "no response" : p->error[0] ? p->error : curl_easy_strerror(cc));
        if (cc != CURLE_OK)
                log_debug("Forwarding to %s ended: %s", p->url, p->error[0] ? p->error : curl_easy_strerror(cc));
        proxy_free(p);
}

/* The glue's callback: the transfer ended. */
static void on_proxy_done(CURL *easy, CURLcode cc, void *userdata) {
        proxy_done(userdata, cc);
}

/* The owner's headers are in: our answer begins with its status and type. */
static void proxy_begin(RemoteProxy *p) {
        long status = 0;

        if (p->began)
                return;
        (void) curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200)
                return;     /* 1xx: the real answer follows */
        p->began = true;
        (void) api_request_stream_begin(p->req, (unsigned) status, p->content_type ?: "application/json");
}

static size_t on_proxy_header(char *data, size_t size, size_t n, void *userdata) {
        RemoteProxy *p = userdata;
        size_t len = size * n;
        const char *v;

        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                free(p->content_type);
                p->content_type = NULL;
        } else if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
                v = data + 13 + strspn(data + 13, " \t");
                free(p->content_type);
                p->content_type = strndup(v, strcspn(v, "\r\n"));
        } else if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
                proxy_begin(p);
        return len;
}

static size_t on_proxy_body(char *data, size_t size, size_t n, void *userdata) {
        RemoteProxy *p = userdata;
        size_t len = size * n;
        int r;

        proxy_begin(p);
        if (!p->began)
                return len;
        r = api_request_stream_write(p->req, data, len);
        if (r == -ENOBUFS) {
                p->paused = true;
                return CURL_WRITEFUNC_PAUSE;
        }
        return r < 0 ? 0 : len;    /* 0: our client is gone, curl stops */
}

static void on_proxy_request_event(ApiRequest *req, ApiRequestEvent event, void *userdata) {
        RemoteProxy *p = userdata;

        if (event == API_REQUEST_CLOSED) {
                log_debug("Client of %s went away; stopping.", p->url);
                if (p->began)
                        api_request_stream_end(p->req, -ECONNRESET);
                else
                        api_request_reply_error(p->req, 502, "bad_gateway", "Client gone.");
                proxy_free(p);
                return;
        }
        if (p->paused) {
                p->paused = false;
                /* May deliver what curl holds at once; the transfer goes on from the loop. */
                (void) curl_glue_unpause(p->glue, p->easy);
        }
}

static int proxy_setup_easy(RemoteProxy *p) {
        const Config *c = p->m->config;
        CURL *e = p->easy;

        CURL_SETOPT_OR_RETURN(e, CURLOPT_URL, p->url);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_HTTPHEADER, p->headers);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_HEADERFUNCTION, on_proxy_header);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_HEADERDATA, (void *) p);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_WRITEFUNCTION, on_proxy_body);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_WRITEDATA, (void *) p);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_ERRORBUFFER, p->error);
#if LIBCURL_VERSION_NUM >= 0x075500
        CURL_SETOPT_OR_RETURN(e, CURLOPT_PROTOCOLS_STR, "https");
#endif
        CURL_SETOPT_OR_RETURN(e, CURLOPT_CONNECTTIMEOUT_MS, PROXY_CONNECT_TIMEOUT_MS);
        if (p->body) {
                CURL_SETOPT_OR_RETURN(e, CURLOPT_POSTFIELDSIZE, (long) strlen(p->body));
                CURL_SETOPT_OR_RETURN(e, CURLOPT_POSTFIELDS, p->body);
        }
        if (!p->follow)
                CURL_SETOPT_OR_RETURN(e, CURLOPT_TIMEOUT_MS, PROXY_TIMEOUT_MS);
        /* Both ends are the cluster's: only its CA counts, and we show our certificate. */
        CURL_SETOPT_OR_RETURN(e, CURLOPT_CAINFO, c->api_client_ca);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_CAPATH, NULL);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_SSLCERT, c->api_tls_cert);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_SSLKEY, c->api_tls_key);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_SSL_VERIFYPEER, 1L);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_SSL_VERIFYHOST, 2L);
        return 0;
}

/* The unit request's URL on the owner's API. */
static int proxy_unit_url(RemoteProxy *p, const char *api) {
        UnitQuery *q = p->query;
        char *escaped;
        int r;

        escaped = curl_easy_escape(p->easy, q->name, 0);
        if (!escaped)
                return -ENOMEM;
        if (q->kind == REMOTE_STATUS)
                r = asprintf(&p->url, "%s/v1/units/%s/status", api, escaped);
        else
                r = asprintf(&p->url, "%s/v1/units/%s/journal?lines=%u%s", api, escaped, q->lines,
                             q->follow ? "&follow=1" : "");
        curl_free(escaped);
        return r < 0 ? -ENOMEM : 0;
}

static int proxy_build_headers(RemoteProxy *p) {
        _cleanup_free_ char *header = NULL;

        if (asprintf(&header, PROXY_HEADER ": %s", p->m->self.id) < 0)
                return -ENOMEM;
        p->headers = curl_slist_append(NULL, header);
        if (!p->headers)
                return -ENOMEM;
        if (p->body) {
                struct curl_slist *l = curl_slist_append(p->headers, "Content-Type: application/json");
                if (!l)
                        return -ENOMEM;
                p->headers = l;
        }
        return 0;
}

/* p->url set for a forward; api for a unit request, whose URL is made here. */
static int proxy_setup(RemoteProxy *p, const char *api) {
        int r;

        r = curl_glue_get(p->m->event, &p->glue);
        if (r < 0)
                return r;
        r = curl_glue_make(&p->easy);
        if (r < 0)
                return r;
        r = p->query ? proxy_unit_url(p, api) : 0;
        if (r >= 0)
                r = proxy_build_headers(p);
        if (r < 0)
                return r;
        r = proxy_setup_easy(p);
        if (r < 0)
                return r;
        r = api_request_set_event_handler(p->req, on_proxy_request_event, p);
        if (r < 0)
                return r;
        /* Starts nothing yet: curl asks for a timer, which starts the transfer from the loop. */
        return curl_glue_add(p->glue, p->easy, on_proxy_done, p);
}

/* Sets p up and starts the transfer; on failure answers 500 and frees p. */
static void proxy_run(RemoteProxy *p, const char *api) {
        ApiRequest *req = p->req;
        int r;

        r = proxy_setup(p, api);
        if (r < 0) {
                log_warning_errno(r, "Failed to forward %s to %s: %m", api_request_path(req), api);
                api_request_set_event_handler(req, NULL, NULL);
                api_request_reply_error(req, 500, "internal", "Failed to forward the request to %s: %s", api,
                                        strerror(-r));
                proxy_free(p);
                return;
        }
        log_debug("Forwarding %s to %s.", api_request_path(req), p->url);
}

static void proxy_start(UnitQuery *q, const char *api) {
        _cleanup_(proxy_freep) RemoteProxy *p = calloc(1, sizeof(RemoteProxy));
        ApiRequest *req = q->req;

        if (!p) {
                unit_query_free(q);
                api_request_reply_error(req, 500, "internal", "Out of memory.");
                return;
        }
        p->m = q->m;
        p->query = q;
        p->req = req;
        p->follow = q->follow;
        memcpy(p->machine, q->machine, sizeof(p->machine));
        proxy_run(TAKE_PTR(p), api);
}

/* ---- forwarding any request to a machine's fleetd ---- */

/* Whether req cannot be forwarded to machine at api; if so, replies why. */
static bool forward_refused(Manager *m, ApiRequest *req, const char *machine, const char *api) {
        const Config *c = m->config;

        if (api_request_header(req, PROXY_HEADER))
                return api_request_reply_error(req, 409, "conflict",
                                               "Machine %s is not this one, and the request was forwarded here "
                                               "already; try again.", machine), true;
        if (!c->api_tls_cert || !c->api_tls_key || !c->api_client_ca)
                return api_request_reply_error(req, 502, "bad_gateway",
                                               "Machine %s's fleetd cannot be reached from here: this machine has "
                                               "no client certificate (api_tls_cert, api_tls_key, api_client_ca).",
                                               machine), true;
        if (isempty(api))
                return api_request_reply_error(req, 502, "bad_gateway",
                                               "Machine %s's fleetd cannot be reached: it has no TCP API (api_listen "
                                               "with TLS is not configured there).", machine), true;
        return false;
}

void api_remote_forward(Manager *m, ApiRequest *req, const char *machine, const char *api, const char *path,
                        const char *body) {
        _cleanup_(proxy_freep) RemoteProxy *p = NULL;

        if (forward_refused(m, req, machine, api))
                return;
        p = calloc(1, sizeof(RemoteProxy));
        if (!p || asprintf(&p->url, "%s%s", api, path) < 0 ||
            (body && !(p->body = strdup(body)))) {
                api_request_reply_error(req, 500, "internal", "Out of memory.");
                return;
        }
        p->m = m;
        p->req = req;
        strcpy(p->machine, machine);
        proxy_run(TAKE_PTR(p), api);
}
