/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "basic/host-port.h"
#include "render.h"

#define PATH_MAX_RENDERED 1024
#define DOMAIN_MAX 200

bool render_path_is_safe(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= PATH_MAX_RENDERED && s[0] == '/' && strspn(s, RENDER_PATH_CHARS) == n;
}

static bool label_is_valid(const char *s, size_t n) {
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

bool render_domain_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > DOMAIN_MAX)
                return false;
        for (;;) {
                const char *dot = strchr(s, '.');
                size_t n = dot ? (size_t) (dot - s) : strlen(s);

                if (!label_is_valid(s, n))
                        return false;
                if (!dot)
                        return true;
                s = dot + 1;
        }
}

static bool port_is_valid(const char *s) {
        size_t n = strlen(s);
        unsigned long p = 0;

        if (n == 0 || n > 5 || strspn(s, "0123456789") != n || s[0] == '0')
                return false;
        for (; *s; s++)
                p = p * 10 + (unsigned long) (*s - '0');
        return p >= 1 && p <= 65535;
}

bool render_listen_is_valid(const char *s) {
        _cleanup_free_ char *host = NULL;
        struct in_addr a4;
        uint16_t port;

        if (isempty(s))
                return false;
        if (port_is_valid(s))
                return true;
        if (startswith(s, "*:"))
                return port_is_valid(s + 2);
        /* parse_host_port() takes IPv4, [IPv6] and host names; nginx wants an address here. */
        if (parse_host_port(s, &host, &port) < 0)
                return false;
        return s[0] == '[' || inet_pton(AF_INET, host, &a4) == 1;
}

static bool text_is_comment_safe(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return false;
        return true;
}

static int render_options_check(const RenderOptions *o) {
        if (!o || !render_domain_is_valid(o->domain) || !render_listen_is_valid(o->listen) ||
            !render_path_is_safe(o->pid_file))
                return -EINVAL;
        if ((o->temp_dir && !render_path_is_safe(o->temp_dir)) ||
            (o->access_log && !render_path_is_safe(o->access_log)))
                return -EINVAL;
        if (!text_is_comment_safe(o->source))
                return -EINVAL;
        return 0;
}

static bool same_endpoint(const Route *a, const Route *b) {
        return streq(a->record.app, b->record.app) && a->family == b->family && a->record.port == b->record.port &&
                memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The routes to render: valid, "web", sorted, one per app and address. */
static int select_routes(const Route * const *routes, size_t n, const Route ***ret, size_t *ret_n,
                         RenderStats *stats) {
        _cleanup_free_ const Route **l = NULL;
        size_t m = 0, k = 0;

        l = calloc(n + 1, sizeof(Route *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!routes[i])
                        continue;
                if (route_is_valid(routes[i]) && route_is_routed(routes[i]))
                        l[m++] = routes[i];
                else
                        stats->n_skipped++;
        }
        qsort(l, m, sizeof(Route *), route_compare_ptr);

        for (size_t i = 0; i < m; i++) {
                if (k > 0 && same_endpoint(l[k - 1], l[i]))
                        continue;
                if (k == 0 || !streq(l[k - 1]->record.app, l[i]->record.app))
                        stats->n_apps++;
                l[k++] = l[i];
        }
        stats->n_servers = k;
        *ret = TAKE_PTR(l);
        *ret_n = k;
        return 0;
}

static void render_header(FILE *f, const RenderOptions *o, const RenderStats *st) {
        fprintf(f, "# Written by fleet-router from the routes in etcd%s%s. Do not edit: every\n"
                   "# change of the routes rewrites it. %zu app(s), %zu instance(s).\n\n",
                o->source ? " under " : "", strempty(o->source), st->n_apps, st->n_servers);
        fprintf(f, "worker_processes auto;\n"
                   "pid %s;\n"
                   "error_log stderr notice;\n"
                   /* an old worker that still serves a long request after a reload */
                   "worker_shutdown_timeout 30s;\n\n"
                   "events {\n"
                   "    worker_connections 4096;\n"
                   "}\n\n",
                o->pid_file);
}

static void render_temp_paths(FILE *f, const char *dir) {
        static const char * const kinds[] = { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" };

        /* nginx creates every temp path at start, used or not: all of them, or none. */
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                fprintf(f, "    %s_temp_path %s/%s;\n", kinds[i], dir, kinds[i]);
}

static void render_http_settings(FILE *f, const RenderOptions *o) {
        usec_t ct = o->connect_timeout ?: USEC_PER_SEC;

        fprintf(f, "http {\n");
        if (o->access_log)
                fprintf(f, "    access_log %s;\n", o->access_log);
        else
                fprintf(f, "    access_log off;\n");
        if (o->temp_dir)
                render_temp_paths(f, o->temp_dir);
        fprintf(f, "    server_tokens off;\n"
                   "    server_names_hash_bucket_size 256;\n"
                   "    server_names_hash_max_size 65536;\n\n"
                   "    map $http_upgrade $connection_upgrade {\n"
                   "        default upgrade;\n"
                   "        '' close;\n"
                   "    }\n\n"
                   "    proxy_http_version 1.1;\n"
                   "    proxy_set_header Host $host;\n"
                   "    proxy_set_header X-Real-IP $remote_addr;\n"
                   "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                   "    proxy_set_header X-Forwarded-Proto $scheme;\n"
                   "    proxy_set_header Upgrade $http_upgrade;\n"
                   "    proxy_set_header Connection $connection_upgrade;\n"
                   /* a just-died instance is skipped quickly; the request goes to the next */
                   "    proxy_connect_timeout %" PRIu64 "ms;\n"
                   "    proxy_next_upstream error timeout http_502 http_503;\n"
                   "    proxy_next_upstream_tries 3;\n\n",
                ct / USEC_PER_MSEC ?: 1);
}

static void render_default_server(FILE *f, const RenderOptions *o) {
        fprintf(f, "    # Any host that is not <app>.%s of an app with routes.\n"
                   "    server {\n"
                   "        listen %s default_server;\n"
                   "        server_name _;\n"
                   "        return 404;\n"
                   "    }\n",
                o->domain, o->listen);
}

static void render_server_line(FILE *f, const Route *r) {
        if (r->family == AF_INET6)
                fprintf(f, "        server [%s]:%u;", r->record.host, (unsigned) r->record.port);
        else
                fprintf(f, "        server %s:%u;", r->record.host, (unsigned) r->record.port);
        fprintf(f, "  # %s\n", r->record.unit);
}

/* One app: routes[0..n) are its routes, sorted. */
static void render_app(FILE *f, const Route * const *routes, size_t n, const RenderOptions *o) {
        const char *app = routes[0]->record.app;

        fprintf(f, "\n    # app %s: %zu instance(s)\n"
                   "    upstream fleet-app-%s {\n"
                   /* shared by the workers: one round robin, one view of failed instances */
                   "        zone fleet-app-%s 64k;\n",
                app, n, app, app);
        for (size_t i = 0; i < n; i++)
                render_server_line(f, routes[i]);
        fprintf(f, "    }\n"
                   "    server {\n"
                   "        listen %s;\n"
                   "        server_name %s.%s;\n"
                   "        location / {\n"
                   "            proxy_pass http://fleet-app-%s;\n"
                   "        }\n"
                   /* nginx's own 502: no instance could be reached (an instance's own 502
                    * passes through, proxy_intercept_errors being off) */
                   "        error_page 502 = @no_instance;\n"
                   "        location @no_instance {\n"
                   "            return 503;\n"
                   "        }\n"
                   "    }\n",
                o->listen, app, o->domain, app);
}

int render(const Route * const *routes, size_t n, const RenderOptions *o, char **ret, RenderStats *ret_stats) {
        _cleanup_free_ const Route **l = NULL;
        /* In this order: f is closed (which sets text) before text is freed. */
        _cleanup_free_ char *text = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        RenderStats stats = {};
        size_t m, size = 0;
        int k;

        k = render_options_check(o);
        if (k < 0)
                return k;
        k = select_routes(routes, n, &l, &m, &stats);
        if (k < 0)
                return k;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        render_header(f, o, &stats);
        render_http_settings(f, o);
        render_default_server(f, o);
        for (size_t i = 0, j; i < m; i = j) {
                for (j = i + 1; j < m && streq(l[j]->record.app, l[i]->record.app); j++)
                        ;
                render_app(f, l + i, j - i, o);
        }
        fprintf(f, "}\n");
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));

        *ret = TAKE_PTR(text);
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}
