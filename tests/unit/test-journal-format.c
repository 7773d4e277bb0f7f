/* SPDX-License-Identifier: Apache-2.0 */
/* journal_line_format(): one journal entry as `journalctl -o short` prints it (in UTC here). */
#include <time.h>

#include "api-remote.h"
#include "../tests.h"

/* 2023-11-21 22:10:01 UTC, with microseconds that must not show. */
#define NOV21 (1700604601ULL * 1000000ULL + 123456ULL)
/* 2024-01-05 03:04:05 UTC: day and hour are zero-padded. */
#define JAN05 (1704423845ULL * 1000000ULL)

#define MSG(s) .message = (s), .message_size = sizeof(s) - 1

static void check(const JournalLine *line, const char *expected, int line_no) {
        _cleanup_free_ char *text = NULL;
        int r = journal_line_format(line, &text);

        if (r < 0 || !streq(text, expected)) {
                fprintf(stderr, "%s:%d: got %d \"%s\", expected \"%s\"\n", __FILE__, line_no, r, strna(text),
                        expected);
                test_failures++;
        }
}
#define CHECK(line, expected) check(line, expected, __LINE__)

TEST(basic) {
        JournalLine l = { .realtime_usec = NOV21, .hostname = "host1", .syslog_identifier = "web", .comm = "httpd",
                          .pid = "123", .syslog_pid = "77", MSG("listening on :8080") };

        CHECK(&l, "Nov 21 22:10:01 host1 web[123]: listening on :8080\n");
        l.realtime_usec = JAN05;
        CHECK(&l, "Jan 05 03:04:05 host1 web[123]: listening on :8080\n");
}

TEST(fallbacks) {
        /* _COMM without SYSLOG_IDENTIFIER; SYSLOG_PID without _PID. */
        JournalLine l = { .realtime_usec = NOV21, .hostname = "host2", .comm = "sh", .syslog_pid = "9", MSG("tick") };
        CHECK(&l, "Nov 21 22:10:01 host2 sh[9]: tick\n");

        /* Neither name nor pid, nor host. */
        JournalLine bare = { .realtime_usec = NOV21, MSG("x") };
        CHECK(&bare, "Nov 21 22:10:01 unknown: x\n");

        /* No message at all. */
        JournalLine none = { .realtime_usec = NOV21, .hostname = "h", .syslog_identifier = "systemd", .pid = "1" };
        CHECK(&none, "Nov 21 22:10:01 h systemd[1]: \n");
}

TEST(multi_line) {
        /* Continuation lines line up under the message; trailing newlines go. */
        JournalLine l = { .realtime_usec = NOV21, .hostname = "h", .syslog_identifier = "a", .pid = "1",
                          MSG("one\ntwo\n\tthree\n\n") };

        CHECK(&l, "Nov 21 22:10:01 h a[1]: one\n"
                  "                        two\n"
                  "                        \tthree\n");
}

TEST(unicode_and_blobs) {
        JournalLine l = { .realtime_usec = NOV21, .hostname = "h", .syslog_identifier = "a", .pid = "1",
                          MSG("gr\xc3\xbc\xc3\x9f dich \xe2\x9c\x93") };
        CHECK(&l, "Nov 21 22:10:01 h a[1]: gr\xc3\xbc\xc3\x9f dich \xe2\x9c\x93\n");

        JournalLine ctl = { .realtime_usec = NOV21, .hostname = "h", .syslog_identifier = "a", .pid = "1",
                            MSG("\x1b[31mred") };
        CHECK(&ctl, "Nov 21 22:10:01 h a[1]: [8B blob data]\n");

        JournalLine bad = { .realtime_usec = NOV21, .hostname = "h", .syslog_identifier = "a", .pid = "1",
                            MSG("\xff\xfe") };
        CHECK(&bad, "Nov 21 22:10:01 h a[1]: [2B blob data]\n");

        /* A cut multi-byte sequence, an overlong form, a NUL inside. */
        JournalLine cut = { .realtime_usec = NOV21, .syslog_identifier = "a", MSG("ab\xe2\x9c") };
        CHECK(&cut, "Nov 21 22:10:01 a: [4B blob data]\n");
        JournalLine overlong = { .realtime_usec = NOV21, .syslog_identifier = "a", MSG("\xc0\xaf") };
        CHECK(&overlong, "Nov 21 22:10:01 a: [2B blob data]\n");
        JournalLine nul = { .realtime_usec = NOV21, .syslog_identifier = "a", MSG("a\0b") };
        CHECK(&nul, "Nov 21 22:10:01 a: [3B blob data]\n");
}

TEST(local_time) {
        /* The zone is the host's, as journalctl's. */
        JournalLine l = { .realtime_usec = NOV21, .syslog_identifier = "a", MSG("m") };

        setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
        tzset();
        CHECK(&l, "Nov 21 23:10:01 a: m\n");
        setenv("TZ", "UTC", 1);
        tzset();
}

int test_failures = 0;

int main(void) {
        static const TestCase cases[] = { T(basic), T(fallbacks), T(multi_line), T(unicode_and_blobs),
                                          T(local_time) };

        setenv("TZ", "UTC", 1);
        tzset();
        return run_tests(cases, ELEMENTSOF(cases));
}
