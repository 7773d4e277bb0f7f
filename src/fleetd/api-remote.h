/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A unit's status and journal from any fleetd, wherever the unit runs, so that fleetctl never
 * needs SSH:
 *
 *   GET /v1/units/<name>/status            systemd's view of the unit: its properties as JSON
 *                                          (systemd_backend_describe()) plus "machine"
 *   GET /v1/units/<name>/journal[?lines=N][&follow=1]
 *                                          the unit's last N (default 10, 0..10000) journal
 *                                          lines as text, formatted like `journalctl -o short`;
 *                                          with follow the answer stays open and new lines are
 *                                          streamed until the client hangs up
 *
 * The fleetd that gets the request looks up state/<name> in etcd to find the machine that runs
 * the unit (404 if none does). If that is this machine it answers from its own systemd and
 * journal (the journal entries of the unit's processes, _SYSTEMD_UNIT=<name>, and those PID 1
 * logs about it, _PID=1 + UNIT=<name>). Otherwise it forwards the request to the owner's fleetd
 * over the owner's TCP API (machines/<id>'s "api", HTTPS), presenting this host's certificate
 * (api_tls_cert, api_tls_key) and trusting only api_client_ca, and streams the answer back as it
 * comes, on the event loop. A forwarded request carries X-Fleetd-Proxied and is never forwarded
 * again (409 if the unit moved meanwhile). 502 (bad_gateway) when the owner cannot be reached:
 * no TCP API there, no certificate here, or the connection failed. At most 32 journal follows
 * (served or forwarded) are open per fleetd; more get 503 (busy).
 *
 * The handlers take the Manager as userdata (see manager-api.c's route table). */

#include <stddef.h>
#include <stdint.h>

#include "api-server.h"

int api_remote_get_status(ApiRequest *req, void *userdata);
int api_remote_get_journal(ApiRequest *req, void *userdata);

typedef struct Manager Manager;

/* Forwards req to the fleetd of machine, whose TCP API is api ("https://IP:PORT", NULL if it
 * has none), as path (with the query) and, when body is not NULL, as a POST of that JSON body;
 * otherwise a GET. Authenticated, refused and streamed back as the unit requests above are:
 * 409 if req was forwarded to here already, 502 when there is no TCP API there or no client
 * certificate here, or the owner cannot be reached. Owes req's reply from here on. */
void api_remote_forward(Manager *m, ApiRequest *req, const char *machine, const char *api, const char *path,
                        const char *body);

/* The fields of one journal entry that `journalctl -o short` shows. Strings are NUL-terminated
 * and may be NULL when the entry lacks the field. */
typedef struct JournalLine {
        uint64_t realtime_usec;       /* __REALTIME_TIMESTAMP */
        const char *hostname;         /* _HOSTNAME */
        const char *syslog_identifier; /* SYSLOG_IDENTIFIER, preferred over ... */
        const char *comm;             /* ... _COMM */
        const char *pid;              /* _PID, preferred over ... */
        const char *syslog_pid;       /* ... SYSLOG_PID */
        const char *message;          /* MESSAGE: message_size bytes, not NUL-terminated */
        size_t message_size;
} JournalLine;

/* PURE. Formats an entry as `journalctl -o short` does, in local time (TZ), ending with '\n':
 * "Nov 21 22:10:01 host1 web[123]: message". An entry without identifier shows "unknown"; a
 * multi-line message continues on lines indented to the message's column; a message that is
 * not printable UTF-8 shows as "[N B blob data]". Returns 0 and the text in *ret, or -ENOMEM,
 * or -ERANGE for a timestamp that local time cannot represent. */
int journal_line_format(const JournalLine *line, char **ret);
