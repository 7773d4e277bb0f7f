/* SPDX-License-Identifier: Apache-2.0 */
/* bench-schedule-etcd: the engine leader of a real fleetd, measured against the etcd it uses.
 * Run from the machine that hosts the cluster (bench/schedule-etcd.sh does it all):
 *
 *   bench-schedule-etcd --endpoint=URL [options]
 *
 * 1. The raw write rate of that etcd, measured in the same run: --raw-puts puts (default
 *    10,000) as fenced txns of 100 puts with one txn in flight (what the engine does), then as
 *    single puts with N in flight for each N of --inflight (default 1,16). Values look like
 *    schedule records. The keys live under /fleetd-bench-raw/, outside fleetd's prefix, and
 *    are deleted afterwards.
 * 2. --machines simulated machines (default 1,000): machines/<id> records with metadata sim=1,
 *    all bound to one lease of this program (kept alive while it runs).
 * 3. --units units (default 10,000): units/<name> records, desiredState launched, contents
 *    "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=sim=1\n" varied a bit, so that
 *    only simulated machines match and no real agent ever gets one.
 * 4. Watches schedule/ from before the first unit put and counts the entries that exist
 *    (PUT of a new key adds one, DELETE removes one) until there are --units of them.
 *    Prints placements/s beside the raw rate, the ratio, and the spread over machines.
 * With --state it then writes state/<name> for every placed unit as an agent would (bound to
 * the lease), for benchmarks of the read side. --populate skips the raw phase and the timing
 * tables (it only fills etcd). --fleetd-pid / --etcd-pid: processes (PIDs on this machine)
 * whose CPU time is reported for the scheduling window.
 *
 * Tables go to stdout; progress to stderr. Exit status 0 when every unit was placed, 1 when
 * the engine stopped short (the tables still say how far it got), 2 on usage or setup errors.
 * Timings are reported, never judged: this is a benchmark, not a test. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "basic/sha256.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "log.h"
#include "registry.h"

#define RAW_PREFIX "/fleetd-bench-raw/"
#define TXN_PUTS 100                  /* the engine's TXN_MAX_OPS */
#define MAX_INFLIGHT_ROWS 8
#define STALL_USEC (60 * USEC_PER_SEC) /* no schedule change for this long after the last put: give up */

typedef struct Bench Bench;

/* --- options --- */

static const char *arg_endpoint;
static const char *arg_prefix = "/fleetd/";
static size_t arg_raw_puts = 10000;
static size_t arg_inflight[MAX_INFLIGHT_ROWS] = { 1, 16 };
static size_t arg_n_inflight = 2;
static size_t arg_machines = 1000;
static size_t arg_units = 10000;
static int64_t arg_lease_ttl = 60;
static usec_t arg_timeout = 600 * USEC_PER_SEC;
static bool arg_state;
static bool arg_populate;
static long arg_fleetd_pid, arg_etcd_pid;

/* --- the loop --- */

struct Bench {
        sd_event *event;
        EtcdClient *etcd;
        int64_t lease;
        EtcdLease *keeper;
        bool lease_lost;
};

static usec_t now_mono(void) {
        return now_usec(CLOCK_MONOTONIC);
}

static double seconds(usec_t u) {
        return (double) u / USEC_PER_SEC;
}

/* Runs the loop until *flag is set or deadline (monotonic) passes; false on timeout. */
static bool run_until(Bench *b, const bool *flag, usec_t deadline) {
        while (!*flag) {
                usec_t now = now_mono();
                if (now >= deadline)
                        return false;
                int r = sd_event_run(b->event, MIN(deadline - now, 100 * USEC_PER_MSEC));
                if (r < 0) {
                        fprintf(stderr, "event loop failed: %s\n", strerror(-r));
                        exit(2);
                }
        }
        return true;
}

static void sleep_loop(Bench *b, usec_t usec) {
        bool never = false;
        run_until(b, &never, now_mono() + usec);
}

/* One request, waited for. The result is copied out where the caller needs it. */
typedef struct Call {
        bool done;
        int error;
        int64_t revision;
        int64_t lease_id;
        bool succeeded;
        EtcdKv *kvs;                  /* copies of key and value */
        size_t n_kvs;
} Call;

static void call_done(Call *c) {
        for (size_t i = 0; i < c->n_kvs; i++) {
                free(c->kvs[i].key);
                free(c->kvs[i].value);
        }
        free(c->kvs);
        *c = (Call) {};
}

static void on_call(EtcdClient *client, int error, const EtcdResult *result, void *userdata) {
        Call *c = userdata;

        c->done = true;
        c->error = error;
        if (error < 0)
                return;
        c->revision = result->revision;
        c->lease_id = result->lease_id;
        c->succeeded = result->succeeded;
        c->kvs = calloc(result->n_kvs + 1, sizeof(EtcdKv));
        if (!c->kvs)
                abort();
        for (size_t i = 0; i < result->n_kvs; i++) {
                c->kvs[i] = result->kvs[i];
                c->kvs[i].key = strdup(result->kvs[i].key);
                c->kvs[i].value = strdup(result->kvs[i].value ?: "");
                if (!c->kvs[i].key || !c->kvs[i].value)
                        abort();
        }
        c->n_kvs = result->n_kvs;
}

static void call_wait(Bench *b, Call *c, int r, const char *what) {
        if (r >= 0 && !run_until(b, &c->done, now_mono() + 60 * USEC_PER_SEC))
                r = -ETIMEDOUT;
        else if (r >= 0)
                r = c->error;
        if (r < 0) {
                fprintf(stderr, "bench-schedule-etcd: %s failed: %s\n", what, strerror(-r));
                exit(2);
        }
}

static char *prefix_key(const char *what) {
        char *k = registry_key(arg_prefix, what, "", NULL);
        if (!k)
                abort();
        return k;
}

static char *end_of(const char *prefix) {
        char *e = etcd_prefix_end(prefix);
        if (!e)
                abort();
        return e;
}

/* --- many writes: single puts or txns of puts, with a number in flight --- */

typedef int (*gen_t)(size_t i, char **ret_key, char **ret_value);

typedef struct Writer {
        Bench *b;
        gen_t gen;
        size_t n;                     /* items to write */
        size_t batch;                 /* 0: one put per request; else puts per txn */
        size_t inflight;
        int64_t lease;
        const char *fence_key;        /* txn compares, as the engine's fence: value and lease */
        const char *fence_value;
        int64_t fence_lease;
        size_t next, running, done, requests, errors, failed_compares;
        bool finished;
        usec_t t_start, t_end;
} Writer;

typedef struct WriterCall {
        Writer *w;
        size_t items;
} WriterCall;

static void writer_pump(Writer *w);

static void on_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        WriterCall *wc = userdata;
        Writer *w = wc->w;

        w->running--;
        w->done += wc->items;
        if (error < 0)
                w->errors += wc->items;
        else if (w->batch > 0 && !result->succeeded)
                w->failed_compares += wc->items;
        free(wc);
        writer_pump(w);
}

static void writer_send(Writer *w) {
        size_t k = w->batch > 0 ? MIN(w->batch, w->n - w->next) : 1;
        char *keys[TXN_PUTS], *values[TXN_PUTS];
        EtcdOp ops[TXN_PUTS];
        WriterCall *wc = calloc(1, sizeof(*wc));
        int r;

        if (!wc || k > TXN_PUTS)
                abort();
        for (size_t i = 0; i < k; i++) {
                if (w->gen(w->next + i, &keys[i], &values[i]) < 0)
                        abort();
                ops[i] = (EtcdOp) { .type = ETCD_OP_PUT, .key = keys[i], .value = values[i], .lease = w->lease };
        }
        *wc = (WriterCall) { .w = w, .items = k };
        if (w->batch == 0)
                r = etcd_client_put(w->b->etcd, keys[0], values[0], w->lease, on_written, wc, NULL);
        else {
                EtcdCompare fence[] = {
                        { .key = w->fence_key, .target = ETCD_COMPARE_VALUE, .result = ETCD_EQUAL,
                          .value = w->fence_value },
                        { .key = w->fence_key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL,
                          .number = w->fence_lease },
                };
                EtcdTxn txn = { .compares = w->fence_key ? fence : NULL, .n_compares = w->fence_key ? 2 : 0,
                                .success = ops, .n_success = k };
                r = etcd_client_txn(w->b->etcd, &txn, on_written, wc, NULL);
        }
        for (size_t i = 0; i < k; i++) {
                free(keys[i]);
                free(values[i]);
        }
        if (r < 0) {
                fprintf(stderr, "bench-schedule-etcd: cannot queue a write: %s\n", strerror(-r));
                exit(2);
        }
        w->next += k;
        w->running++;
        w->requests++;
}

static void writer_pump(Writer *w) {
        while (w->next < w->n && w->running < w->inflight)
                writer_send(w);
        if (w->done >= w->n && w->running == 0 && !w->finished) {
                w->finished = true;
                w->t_end = now_mono();
        }
}

static void writer_run(Writer *w) {
        w->t_start = now_mono();
        writer_pump(w);
        if (!run_until(w->b, &w->finished, now_mono() + arg_timeout)) {
                fprintf(stderr, "bench-schedule-etcd: writes did not finish in time (%zu of %zu)\n", w->done, w->n);
                exit(2);
        }
}

static double writer_rate(const Writer *w) {
        return w->t_end > w->t_start ? (double) (w->done - w->errors) / seconds(w->t_end - w->t_start) : 0;
}

/* --- what is written --- */

static uint64_t splitmix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static void sim_machine_id(size_t i, char ret[static MACHINE_ID_LEN + 1]) {
        snprintf(ret, MACHINE_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, splitmix(0x51a0000 + i),
                 splitmix(0x51b0000 + i));
}

/* Unit i: a quarter plain services, a quarter instances of 25 templates (spread apart by the
 * scheduler), a quarter with an environment line, a quarter with OR-ed metadata (sim=1 or
 * sim=2; no machine has sim=2). Every one needs sim=1, which only simulated machines have. */
static char *unit_name(size_t i) {
        char *s;
        if ((i % 4 == 1 ? asprintf(&s, "simapp%02zu@%zu.service", (i / 4) % 25, i) :
                          asprintf(&s, "sim-%05zu.service", i)) < 0)
                abort();
        return s;
}

static char *unit_contents(size_t i) {
        char *s;
        int r;
        switch (i % 4) {
        case 0:
                r = asprintf(&s, "[Unit]\nDescription=simulated unit %zu\n\n[Service]\nExecStart=/bin/true\n\n"
                             "[X-Fleet]\nMachineMetadata=sim=1\n", i);
                break;
        case 1:
                r = asprintf(&s, "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nMachineMetadata=sim=1\n");
                break;
        case 2:
                r = asprintf(&s, "[Service]\nEnvironment=N=%zu\nExecStart=/bin/true\n\n[X-Fleet]\n"
                             "MachineMetadata=sim=1\n", i);
                break;
        default:
                r = asprintf(&s, "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nMachineMetadata=sim=1\n"
                             "MachineMetadata=sim=2\n");
                break;
        }
        if (r < 0)
                abort();
        return s;
}

static int gen_raw(size_t i, char **ret_key, char **ret_value) {
        /* the shape of a schedule entry: key schedule/<machine>/<name>, record with contents */
        _cleanup_free_ char *name = unit_name(i), *contents = unit_contents(i);
        char mid[MACHINE_ID_LEN + 1], hash[SHA256_HEX_SIZE];
        sim_machine_id(i % 1000, mid);
        sha256_hex(contents, strlen(contents), hash);
        ScheduleRecord s = { .name = name, .hash = hash, .contents = contents, .desired = UNIT_LAUNCHED };
        json_auto_t *j = schedule_record_to_json(&s);
        if (!j || asprintf(ret_key, RAW_PREFIX "%s/%s", mid, name) < 0)
                return -ENOMEM;
        *ret_value = jx_dumps(j);
        return *ret_value ? 0 : -ENOMEM;
}

static int gen_machine(size_t i, char **ret_key, char **ret_value) {
        MetadataPair md[] = { { (char *) "sim", (char *) "1" } };
        char host[32], ip[32];
        MachineRecord m = {
                .hostname = host, .ip = ip, .metadata = md, .n_metadata = 1, .cpu_millis = 4000,
                .memory_bytes = (uint64_t) 8 << 30, .state = MACHINE_ACTIVE, .version = (char *) "simulated",
        };
        sim_machine_id(i, m.id);
        snprintf(host, sizeof(host), "sim%04zu", i);
        snprintf(ip, sizeof(ip), "10.254.%zu.%zu", i / 250, 1 + i % 250);
        json_auto_t *j = machine_record_to_json(&m);
        *ret_key = registry_key(arg_prefix, "machines", m.id, NULL);
        *ret_value = j ? jx_dumps(j) : NULL;
        return *ret_key && *ret_value ? 0 : -ENOMEM;
}

static int gen_unit(size_t i, char **ret_key, char **ret_value) {
        _cleanup_free_ char *name = unit_name(i), *contents = unit_contents(i);
        char hash[SHA256_HEX_SIZE];
        sha256_hex(contents, strlen(contents), hash);
        UnitRecord u = { .name = name, .contents = contents, .hash = hash, .desired = UNIT_LAUNCHED };
        json_auto_t *j = unit_record_to_json(&u);
        *ret_key = registry_key(arg_prefix, "units", name, NULL);
        *ret_value = j ? jx_dumps(j) : NULL;
        return *ret_key && *ret_value ? 0 : -ENOMEM;
}

/* state/<name> for the placed units, from the schedule keys read after placement. */
static char **state_names, **state_machines;

static int gen_state(size_t i, char **ret_key, char **ret_value) {
        _cleanup_free_ char *contents = NULL;
        char hash[SHA256_HEX_SIZE];
        size_t idx;

        /* the unit's index is in its name: sim-NNNNN or simappXX@N */
        const char *at = strchr(state_names[i], '@'), *dash = strchr(state_names[i], '-');
        idx = strtoul(at ? at + 1 : dash ? dash + 1 : "0", NULL, 10);
        contents = unit_contents(idx);
        sha256_hex(contents, strlen(contents), hash);
        StateRecord s = { .name = state_names[i], .hash = hash, .load = (char *) "loaded",
                          .active = (char *) "active", .sub = (char *) "running",
                          .since_usec = now_usec(CLOCK_REALTIME) };
        snprintf(s.machine, sizeof(s.machine), "%s", state_machines[i]);
        json_auto_t *j = state_record_to_json(&s);
        *ret_key = registry_key(arg_prefix, "state", state_names[i], NULL);
        *ret_value = j ? jx_dumps(j) : NULL;
        return *ret_key && *ret_value ? 0 : -ENOMEM;
}

/* --- counting schedule entries --- */

typedef struct Counter {
        Hashmap *live;                /* "machine/name" */
        size_t target;
        size_t n_live, put_events, delete_events, revisions;
        int64_t last_revision;
        usec_t t_first, t_done, t_last_change;
        bool reached;
        bool failed;
} Counter;

static void on_schedule(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        Counter *c = userdata;
        _cleanup_free_ char *sched = prefix_key("schedule");
        usec_t now = now_mono();

        if (error < 0) {
                fprintf(stderr, "bench-schedule-etcd: the schedule watch failed: %s\n", strerror(-error));
                c->failed = true;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *rest = startswith(ev[i].kv.key, sched);
                if (!rest)
                        continue;
                if (ev[i].kv.mod_revision != c->last_revision) {
                        c->revisions++;
                        c->last_revision = ev[i].kv.mod_revision;
                }
                if (ev[i].type == ETCD_EVENT_PUT) {
                        c->put_events++;
                        if (!hashmap_get(c->live, rest)) {
                                if (hashmap_put(c->live, rest, (void *) 1) < 0)
                                        abort();
                                c->n_live++;
                        }
                } else {
                        c->delete_events++;
                        if (hashmap_remove(c->live, rest))
                                c->n_live--;
                }
        }
        if (n > 0) {
                if (!c->t_first)
                        c->t_first = now;
                c->t_last_change = now;
        }
        if (!c->reached && c->n_live >= c->target) {
                c->reached = true;
                c->t_done = now;
        }
}

/* --- CPU time of other processes (ticks of utime + stime) --- */

static long long proc_cpu_ticks(long pid) {
        char path[64], buf[1024];
        FILE *f;

        if (pid <= 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        unsigned long long ut, st;
        /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (long long) (ut + st);
}

static void cpu_cell(char *buf, size_t size, long long t0, long long t1, usec_t window) {
        double s = (double) (t1 - t0) / sysconf(_SC_CLK_TCK);
        if (t0 < 0 || t1 < 0)
                snprintf(buf, size, "n/a");
        else
                snprintf(buf, size, "%.2f s (%.0f%%)", s, window ? 100.0 * s / seconds(window) : 0.0);
}

/* --- phases --- */

static void on_lease_lost(EtcdLease *l, void *userdata) {
        Bench *b = userdata;
        b->lease_lost = true;
        fprintf(stderr, "bench-schedule-etcd: the simulated machines' lease was lost\n");
}

static void grant_lease(Bench *b) {
        Call c = {};
        call_wait(b, &c, etcd_client_lease_grant(b->etcd, arg_lease_ttl, on_call, &c, NULL), "lease grant");
        b->lease = c.lease_id;
        call_done(&c);
        int r = etcd_lease_keep(b->etcd, b->lease, arg_lease_ttl, on_lease_lost, b, &b->keeper);
        if (r < 0) {
                fprintf(stderr, "bench-schedule-etcd: cannot keep the lease: %s\n", strerror(-r));
                exit(2);
        }
}

/* The engine leader's machine id, waiting up to 60 s for one to be elected. */
static char *wait_leader(Bench *b) {
        _cleanup_free_ char *key = registry_key(arg_prefix, "engine", "leader", NULL);
        usec_t deadline = now_mono() + 60 * USEC_PER_SEC;

        for (;;) {
                Call c = {};
                EtcdRangeArgs a = { .key = key };
                call_wait(b, &c, etcd_client_range(b->etcd, &a, on_call, &c, NULL), "reading engine/leader");
                if (c.n_kvs > 0) {
                        char *v = strdup(c.kvs[0].value);
                        call_done(&c);
                        return v;
                }
                call_done(&c);
                if (now_mono() > deadline) {
                        fprintf(stderr, "bench-schedule-etcd: no engine leader in etcd after 60 s (is fleetd up?)\n");
                        exit(2);
                }
                sleep_loop(b, 200 * USEC_PER_MSEC);
        }
}

/* The store's current revision (from a count-only range of prefix/). */
static int64_t current_revision(Bench *b, const char *what) {
        _cleanup_free_ char *k = prefix_key(what), *e = end_of(k);
        EtcdRangeArgs a = { .key = k, .range_end = e, .count_only = true };
        Call c = {};
        call_wait(b, &c, etcd_client_range(b->etcd, &a, on_call, &c, NULL), "reading the revision");
        int64_t rev = c.revision;
        call_done(&c);
        return rev;
}

typedef struct RawRow {
        const char *mode;
        char inflight[32];
        size_t puts, requests, errors;
        double secs, rate;
} RawRow;

static void raw_phase(Bench *b, RawRow *rows, size_t *n_rows, double *ret_txn_rate) {
        _cleanup_free_ char *end = end_of(RAW_PREFIX);
        const char *fence = RAW_PREFIX "fence";
        Call c = {};

        call_wait(b, &c, etcd_client_put(b->etcd, fence, "bench", b->lease, on_call, &c, NULL), "fence put");
        call_done(&c);

        Writer w = { .b = b, .gen = gen_raw, .n = arg_raw_puts, .batch = TXN_PUTS, .inflight = 1,
                     .fence_key = fence, .fence_value = "bench", .fence_lease = b->lease };
        fprintf(stderr, "raw: %zu puts as fenced txns of %d, one in flight...\n", arg_raw_puts, TXN_PUTS);
        writer_run(&w);
        rows[*n_rows] = (RawRow) { "txn of 100 puts + 2 compares", "1 txn", w.done, w.requests,
                                   w.errors + w.failed_compares, seconds(w.t_end - w.t_start), writer_rate(&w) };
        *ret_txn_rate = rows[(*n_rows)++].rate;

        for (size_t k = 0; k < arg_n_inflight; k++) {
                Writer s = { .b = b, .gen = gen_raw, .n = arg_raw_puts, .batch = 0, .inflight = arg_inflight[k] };
                fprintf(stderr, "raw: %zu single puts, %zu in flight...\n", arg_raw_puts, arg_inflight[k]);
                writer_run(&s);
                rows[*n_rows] = (RawRow) { "single put", "", s.done, s.requests, s.errors,
                                           seconds(s.t_end - s.t_start), writer_rate(&s) };
                snprintf(rows[*n_rows].inflight, sizeof(rows[*n_rows].inflight), "%zu", arg_inflight[k]);
                (*n_rows)++;
        }

        call_wait(b, &c, etcd_client_delete(b->etcd, RAW_PREFIX, end, on_call, &c, NULL), "deleting raw keys");
        call_done(&c);
}

/* Reads schedule/ (keys only): the number of entries on each simulated machine (min, max),
 * on other machines, and in all on simulated ones; fills state_names and state_machines. */
static void read_placements(Bench *b, size_t *ret_min, size_t *ret_max, size_t *ret_on_real, size_t *ret_total) {
        _cleanup_free_ char *k = prefix_key("schedule"), *e = end_of(k);
        _cleanup_(hashmap_freep) Hashmap *per = hashmap_new(NULL);   /* id -> 1 + entries */
        EtcdRangeArgs a = { .key = k, .range_end = e, .keys_only = true };
        Call c = {};
        size_t on_real = 0, n = 0;

        if (!per)
                abort();
        for (size_t i = 0; i < arg_machines; i++) {
                char mid[MACHINE_ID_LEN + 1];
                sim_machine_id(i, mid);
                if (hashmap_put(per, mid, (void *) 1) < 0)
                        abort();
        }
        call_wait(b, &c, etcd_client_range(b->etcd, &a, on_call, &c, NULL), "reading schedule/");
        state_names = calloc(c.n_kvs + 1, sizeof(char *));
        state_machines = calloc(c.n_kvs + 1, sizeof(char *));
        if (!state_names || !state_machines)
                abort();
        for (size_t i = 0; i < c.n_kvs; i++) {
                const char *rest = startswith(c.kvs[i].key, k), *slash = rest ? strchr(rest, '/') : NULL;
                if (!slash)
                        continue;
                _cleanup_free_ char *mid = strndup(rest, slash - rest);
                if (!mid)
                        abort();
                uintptr_t cur = (uintptr_t) hashmap_get(per, mid);
                if (cur == 0) {
                        on_real++;
                        continue;
                }
                if (hashmap_put(per, mid, (void *) (cur + 1)) < 0 || !(state_names[n] = strdup(slash + 1)))
                        abort();
                state_machines[n++] = TAKE_PTR(mid);
        }
        size_t min = SIZE_MAX, max = 0, i = 0;
        void *v;
        while (hashmap_iterate(per, &i, NULL, &v)) {
                min = MIN(min, (size_t) (uintptr_t) v - 1);
                max = MAX(max, (size_t) (uintptr_t) v - 1);
        }
        *ret_min = min == SIZE_MAX ? 0 : min;
        *ret_max = max;
        *ret_on_real = on_real;
        *ret_total = n;
        call_done(&c);
}

static void rate_row(const char *what, double rate, double raw) {
        if (raw <= 0)
                printf("| %s | %.0f | n/a | n/a | n/a |\n", what, rate);
        else
                printf("| %s | %.0f | %.0f | %.2f | %s |\n", what, rate, raw, rate / raw,
                       rate / raw >= 0.5 ? "met" : "MISSED");
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-schedule-etcd --endpoint=URL [options]\n\n"
                "  --endpoint=URL      etcd client URL (the cluster's)\n"
                "  --prefix=P          fleetd's key prefix (default /fleetd/)\n"
                "  --raw-puts=N        raw puts per row (default 10000; 0 skips the raw rate)\n"
                "  --inflight=N[,N..]  single-put rows with N in flight (default 1,16)\n"
                "  --machines=N        simulated machines (default 1000)\n"
                "  --units=N           units (default 10000)\n"
                "  --lease-ttl=SEC     the simulated machines' lease (default 60, kept alive)\n"
                "  --timeout=SEC       give up waiting for placements after this long (default 600)\n"
                "  --state             then write state/<name> for each placed unit\n"
                "  --populate          only fill etcd (no raw phase, no timing tables)\n"
                "  --fleetd-pid=PID    report this process's CPU time (e.g. the leader fleetd)\n"
                "  --etcd-pid=PID      report this process's CPU time (etcd)\n");
}

static size_t parse_size(const char *s, const char *what) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno || end == s || *end) {
                fprintf(stderr, "bench-schedule-etcd: bad %s '%s'\n", what, s);
                exit(2);
        }
        return n;
}

static void parse_args(int argc, char *argv[]) {
        static const struct option options[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "prefix", required_argument, NULL, 'p' },
                { "raw-puts", required_argument, NULL, 'r' },
                { "inflight", required_argument, NULL, 'i' },
                { "machines", required_argument, NULL, 'm' },
                { "units", required_argument, NULL, 'u' },
                { "lease-ttl", required_argument, NULL, 'l' },
                { "timeout", required_argument, NULL, 't' },
                { "state", no_argument, NULL, 's' },
                { "populate", no_argument, NULL, 'P' },
                { "fleetd-pid", required_argument, NULL, 'F' },
                { "etcd-pid", required_argument, NULL, 'E' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'e': arg_endpoint = optarg; break;
                case 'p': arg_prefix = optarg; break;
                case 'r': arg_raw_puts = parse_size(optarg, "--raw-puts"); break;
                case 'i': {
                        _cleanup_strv_free_ char **l = NULL;
                        if (strv_split(optarg, ",", &l) < 0)
                                abort();
                        arg_n_inflight = 0;
                        STRV_FOREACH(s, l)
                                if (arg_n_inflight < MAX_INFLIGHT_ROWS)
                                        arg_inflight[arg_n_inflight++] = MAX(parse_size(*s, "--inflight"), (size_t) 1);
                        break;
                }
                case 'm': arg_machines = parse_size(optarg, "--machines"); break;
                case 'u': arg_units = parse_size(optarg, "--units"); break;
                case 'l': arg_lease_ttl = (int64_t) MAX(parse_size(optarg, "--lease-ttl"), (size_t) 5); break;
                case 't': arg_timeout = parse_size(optarg, "--timeout") * USEC_PER_SEC; break;
                case 's': arg_state = true; break;
                case 'P': arg_populate = true; break;
                case 'F': arg_fleetd_pid = (long) parse_size(optarg, "--fleetd-pid"); break;
                case 'E': arg_etcd_pid = (long) parse_size(optarg, "--etcd-pid"); break;
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); exit(2);
                }
        if (!arg_endpoint || optind < argc || arg_machines < 1 || arg_units < 1) {
                usage(stderr);
                exit(2);
        }
        if (arg_prefix[0] == 0 || arg_prefix[strlen(arg_prefix) - 1] != '/') {
                fprintf(stderr, "bench-schedule-etcd: --prefix must end with '/'\n");
                exit(2);
        }
}

int main(int argc, char *argv[]) {
        Bench b = {};
        RawRow raw[1 + MAX_INFLIGHT_ROWS];
        size_t n_raw = 0;
        double txn_rate = 0;
        int r;

        parse_args(argc, argv);
        if (arg_populate)
                arg_raw_puts = 0;
        log_set_max_level(LOG_WARNING);
        setvbuf(stdout, NULL, _IOLBF, 0);

        char *endpoints[] = { (char *) arg_endpoint, NULL };
        EtcdOptions o = { .endpoints = endpoints, .request_timeout = 30 * USEC_PER_SEC };
        if ((r = sd_event_default(&b.event)) < 0 || (r = etcd_client_new(b.event, &o, &b.etcd)) < 0) {
                fprintf(stderr, "bench-schedule-etcd: cannot set up the etcd client: %s\n", strerror(-r));
                return 2;
        }

        _cleanup_free_ char *leader = wait_leader(&b);
        fprintf(stderr, "engine leader: %s\n", leader);
        grant_lease(&b);

        /* 1. the raw write rate */
        if (arg_raw_puts > 0)
                raw_phase(&b, raw, &n_raw, &txn_rate);

        /* 2. machines: txns of 100, 4 in flight (how they get there is not measured) */
        fprintf(stderr, "writing %zu simulated machines...\n", arg_machines);
        Writer wm = { .b = &b, .gen = gen_machine, .n = arg_machines, .batch = TXN_PUTS, .inflight = 4,
                      .lease = b.lease };
        writer_run(&wm);
        if (wm.errors) {
                fprintf(stderr, "bench-schedule-etcd: %zu machine writes failed\n", wm.errors);
                return 2;
        }
        sleep_loop(&b, USEC_PER_SEC);   /* let the leader take them in */

        /* 3. units, with the schedule watch in place from before the first put */
        int64_t rev = current_revision(&b, "schedule");
        _cleanup_free_ char *sk = prefix_key("schedule"), *se = end_of(sk);
        Counter cnt = { .live = hashmap_new(NULL), .target = arg_units };
        EtcdWatch *watch = NULL;
        if (!cnt.live || (r = etcd_client_watch(b.etcd, sk, se, rev + 1, on_schedule, &cnt, &watch)) < 0) {
                fprintf(stderr, "bench-schedule-etcd: cannot watch schedule/\n");
                return 2;
        }
        sleep_loop(&b, 200 * USEC_PER_MSEC);
        size_t live_before = cnt.n_live;     /* entries on other machines from before (none expected) */
        cnt.target = arg_units + live_before;

        long long f0 = proc_cpu_ticks(arg_fleetd_pid), e0 = proc_cpu_ticks(arg_etcd_pid);
        fprintf(stderr, "writing %zu units (txns of 100, 2 in flight)...\n", arg_units);
        Writer wu = { .b = &b, .gen = gen_unit, .n = arg_units, .batch = TXN_PUTS, .inflight = 2 };
        writer_run(&wu);
        usec_t t_last_put = wu.t_end;
        size_t at_last_put = cnt.n_live - live_before;
        fprintf(stderr, "units written in %.2f s; %zu placed so far; waiting for %zu schedule entries...\n",
                seconds(wu.t_end - wu.t_start), at_last_put, arg_units);

        /* 4. until every unit has its entry, the engine stalls, or the timeout */
        usec_t deadline = now_mono() + arg_timeout;
        size_t reported = 0;
        while (!cnt.reached && !cnt.failed && now_mono() < deadline) {
                bool never = false;
                run_until(&b, &never, MIN(deadline, now_mono() + USEC_PER_SEC));
                if (cnt.n_live / 1000 != reported / 1000)
                        fprintf(stderr, "  %zu placed after %.1f s\n", cnt.n_live - live_before,
                                seconds(now_mono() - wu.t_start));
                reported = cnt.n_live;
                if (now_mono() - MAX(cnt.t_last_change, t_last_put) > STALL_USEC) {
                        fprintf(stderr, "bench-schedule-etcd: no schedule change for %.0f s; giving up\n",
                                seconds(STALL_USEC));
                        break;
                }
        }
        usec_t t_end = cnt.reached ? cnt.t_done : now_mono();
        long long f1 = proc_cpu_ticks(arg_fleetd_pid), e1 = proc_cpu_ticks(arg_etcd_pid);
        size_t placed = cnt.n_live - live_before;

        /* settle, then read back where everything went */
        sleep_loop(&b, 500 * USEC_PER_MSEC);
        size_t min = 0, max = 0, on_real = 0, total = 0;
        read_placements(&b, &min, &max, &on_real, &total);

        if (arg_state && total > 0) {
                fprintf(stderr, "writing %zu state records...\n", total);
                Writer ws = { .b = &b, .gen = gen_state, .n = total, .batch = TXN_PUTS, .inflight = 4,
                              .lease = b.lease };
                writer_run(&ws);
                if (ws.errors)
                        fprintf(stderr, "bench-schedule-etcd: %zu state writes failed\n", ws.errors);
        }

        if (arg_populate) {
                printf("populated: %zu machines, %zu units, %zu placed (%zu..%zu per machine)%s\n", arg_machines,
                       arg_units, total, min, max, arg_state ? ", state/ written" : "");
        } else {
                if (n_raw > 0) {
                        printf("\n### etcd raw write rate (same etcd, same run)\n\n");
                        printf("| mode | in flight | puts | requests | errors | seconds | puts/s |\n");
                        printf("|---|---|---:|---:|---:|---:|---:|\n");
                        for (size_t i = 0; i < n_raw; i++)
                                printf("| %s | %s | %zu | %zu | %zu | %.2f | %.0f |\n", raw[i].mode, raw[i].inflight,
                                       raw[i].puts, raw[i].requests, raw[i].errors, raw[i].secs, raw[i].rate);
                }

                double after = t_end > t_last_put ? seconds(t_end - t_last_put) : 0;
                double whole = seconds(t_end - wu.t_start);
                double rate_brief = after > 0 ? placed / after : 0;
                double rate_rest = after > 0 ? (placed - MIN(placed, at_last_put)) / after : 0;
                double rate_whole = whole > 0 ? placed / whole : 0;
                char fcpu[64], ecpu[64];
                cpu_cell(fcpu, sizeof(fcpu), f0, f1, t_end - wu.t_start);
                cpu_cell(ecpu, sizeof(ecpu), e0, e1, t_end - wu.t_start);

                printf("\n### engine placements (%zu simulated machines, %zu units)\n\n", arg_machines, arg_units);
                printf("| figure | value |\n|---|---:|\n");
                printf("| units written (txns of 100, 2 in flight) | %.2f s |\n", seconds(wu.t_end - wu.t_start));
                printf("| schedule entries already there at the last unit put | %zu |\n", at_last_put);
                printf("| last unit put -> %zu entries | %s%.2f s |\n", arg_units, cnt.reached ? "" : "NOT REACHED, ",
                       after);
                printf("| first unit put -> %zu entries | %.2f s |\n", arg_units, whole);
                printf("| entries placed | %zu of %zu |\n", placed, arg_units);
                printf("| schedule PUT / DELETE events | %zu / %zu |\n", cnt.put_events, cnt.delete_events);
                printf("| schedule write revisions (txns) | %zu |\n", cnt.revisions);
                printf("| leader fleetd CPU, first put -> done | %s |\n", fcpu);
                printf("| etcd CPU, first put -> done | %s |\n", ecpu);

                printf("\n### placement rate against the raw rate\n\n");
                printf("| measure | placements/s | raw txn puts/s | ratio | target >= 0.5 |\n");
                printf("|---|---:|---:|---:|---|\n");
                rate_row("units placed / (last unit put -> all placed)", rate_brief, txn_rate);
                rate_row("entries placed after the last put / (last unit put -> all placed)", rate_rest, txn_rate);
                rate_row("units placed / (first unit put -> all placed)", rate_whole, txn_rate);

                printf("\n### distribution over the simulated machines\n\n");
                printf("| machines | entries on them | min/machine | max/machine | mean | entries on other machines |\n");
                printf("|---:|---:|---:|---:|---:|---:|\n");
                printf("| %zu | %zu | %zu | %zu | %.1f | %zu |\n", arg_machines, total, min, max,
                       (double) total / arg_machines, on_real);
        }

        etcd_watch_free(watch);
        hashmap_free(cnt.live);
        etcd_lease_free(b.keeper);
        etcd_client_free(b.etcd);
        sd_event_unref(b.event);
        strv_free(state_names);
        strv_free(state_machines);
        return placed >= arg_units ? 0 : 1;
}
