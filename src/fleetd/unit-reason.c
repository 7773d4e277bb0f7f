/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "basic/strv.h"
#include "unit-reason.h"

static bool line_is_blank(const char *s) {
        return strspn(s, " \t\r\n") == strlen(s);
}

static bool line_is_error(const char *s) {
        s += strspn(s, " \t");
        return startswith(s, "Error") || startswith(s, "error:") || strstr(s, "level=error") ||
               strstr(s, "level=fatal");
}

/* A copy of at most UNIT_REASON_MAX bytes, not ending inside a UTF-8 sequence, blanks trimmed. */
static char *reason_dup(const char *s) {
        size_t n;

        s += strspn(s, " \t");
        n = strlen(s);
        if (n > UNIT_REASON_MAX) {
                n = UNIT_REASON_MAX;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
                n--;
        return strndup(s, n);
}

int unit_reason_pick(char * const *lines, size_t n, char **ret) {
        const char *last = NULL, *error = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!lines[i] || line_is_blank(lines[i]))
                        continue;
                last = lines[i];
                if (line_is_error(lines[i]))
                        error = lines[i];
        }
        *ret = NULL;
        if (!last)
                return 0;
        *ret = reason_dup(error ?: last);
        return *ret ? 0 : -ENOMEM;
}

/* MESSAGE= of the entry the journal stands on, or NULL. */
static char *entry_message(sd_journal *j) {
        const void *data;
        size_t len;

        if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < strlen("MESSAGE="))
                return NULL;
        return strndup((const char *) data + strlen("MESSAGE="), len - strlen("MESSAGE="));
}

int unit_reason_read(const char *unit, char **ret) {
        _cleanup_free_ char *match = NULL;
        char *lines[UNIT_REASON_LINES] = {};
        sd_journal *j = NULL;
        size_t n = 0;
        int r;

        if (asprintf(&match, "_SYSTEMD_UNIT=%s", unit) < 0)
                return -ENOMEM;
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = sd_journal_add_match(j, match, 0);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        /* newest first into the end of lines[], so that they end up oldest first */
        while (r >= 0 && n < UNIT_REASON_LINES && (r = sd_journal_previous(j)) > 0)
                lines[UNIT_REASON_LINES - 1 - n++] = entry_message(j);
        if (r >= 0)
                r = unit_reason_pick(lines + UNIT_REASON_LINES - n, n, ret);
        for (size_t i = 0; i < UNIT_REASON_LINES; i++)
                free(lines[i]);
        sd_journal_close(j);
        return r;
}
