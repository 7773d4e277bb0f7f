/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdio.h>

#include "basic/sha256.h"
#include "basic/strv.h"
#include "unit-file.h"
#include "../tests.h"

/* The fixture directory (tests/data), given as the first argument by meson. */
static const char *arg_data_dir;

/* Sorted names of the files in data_dir/sub, dotfiles left out. */
static char **list_dir(const char *sub) {
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        struct dirent **entries = NULL;
        int n;

        if (!names || asprintf(&path, "%s/%s", arg_data_dir, sub) < 0)
                return NULL;
        n = scandir(path, &entries, NULL, alphasort);
        if (n < 0)
                return NULL;
        for (int i = 0; i < n; i++) {
                if (entries[i]->d_name[0] != '.' && strv_extend(&names, entries[i]->d_name) < 0)
                        names = strv_free(names);
                free(entries[i]);
        }
        free(entries);
        return TAKE_PTR(names);
}

static int read_fixture(const char *sub, const char *name, char **ret, size_t *ret_len) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s/%s", arg_data_dir, sub, name) < 0)
                return -ENOMEM;
        return unit_file_read_text(path, ret, ret_len);
}

static UnitFile *parse_string(const char *text) {
        _cleanup_free_ char *error = NULL;
        UnitFile *uf = NULL;

        if (unit_file_parse(text, strlen(text), "test.service", &uf, &error) < 0) {
                fprintf(stderr, "unexpected parse error: %s\n", strna(error));
                return NULL;
        }
        return uf;
}

static UnitFile *parse_fixture(const char *name) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        UnitFile *uf = NULL;
        size_t len;

        if (read_fixture("units", name, &text, &len) < 0)
                return NULL;
        if (unit_file_parse(text, len, name, &uf, &error) < 0)
                fprintf(stderr, "unexpected parse error: %s\n", strna(error));
        return uf;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);

        if (n < k || !streq(s + n - k, suffix)) {
                fprintf(stderr, "\"%s\" does not end with \"%s\"\n", s, suffix);
                return false;
        }
        return true;
}

static char *print_string(const UnitFile *uf) {
        char *s = NULL;

        return unit_file_print(uf, &s) < 0 ? NULL : s;
}

/* Every entry as "section|key|value", in file order. */
static char **entries_of(const UnitFile *uf) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return NULL;
        UNIT_FILE_FOREACH_ENTRY(e, uf, NULL) {
                char *s;
                if (asprintf(&s, "%s|%s|%s", e.section, e.key, e.value) < 0 || strv_push(&l, s) < 0)
                        return NULL;
        }
        return TAKE_PTR(l);
}

static bool strv_equal(char **a, char **b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* The model survives printing: parsing the printed text gives the same entries and text. */
static bool reparses_same(const UnitFile *uf) {
        _cleanup_unit_file_free_ UnitFile *again = NULL;
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        _cleanup_free_ char *text = print_string(uf), *text2 = NULL, *error = NULL;

        if (!text || unit_file_parse(text, strlen(text), "printed", &again, &error) < 0) {
                fprintf(stderr, "printed text does not parse: %s\n", strna(error));
                return false;
        }
        a = entries_of(uf);
        b = entries_of(again);
        text2 = print_string(again);
        return a && b && text2 && strv_equal(a, b) && streq(text, text2);
}

static void assert_values(const UnitFile *uf, const char *section, const char *key, const char *const *expected) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        while (expected[n])
                n++;
        ASSERT_INT(unit_file_get_all(uf, section, key, &l), n);
        ASSERT_INT(strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                ASSERT_STR(l[i], expected[i]);
}
#define ASSERT_VALUES(uf, section, key, ...) \
        assert_values(uf, section, key, (const char *const[]) { __VA_ARGS__, NULL })

/* print(parse(x)) == x byte for byte, and the hash is the SHA-256 of x, for every fixture. */
TEST(corpus_round_trip) {
        _cleanup_strv_free_ char **names = list_dir("units");

        ASSERT_TRUE(names);
        ASSERT_TRUE(strv_length(names) >= 25);
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *text = NULL, *printed = NULL, *error = NULL;
                _cleanup_unit_file_free_ UnitFile *uf = NULL;
                char h1[SHA256_HEX_SIZE], h2[SHA256_HEX_SIZE];
                size_t len;

                ASSERT_INT(read_fixture("units", *name, &text, &len), 0);
                if (unit_file_parse(text, len, *name, &uf, &error) < 0)
                        fprintf(stderr, "%s\n", strna(error));
                ASSERT_TRUE(uf);
                ASSERT_INT(unit_file_print(uf, &printed), 0);
                if (strlen(printed) != len || memcmp(printed, text, len) != 0)
                        fprintf(stderr, "%s: printed text differs from the file\n", *name);
                ASSERT_INT(strlen(printed), len);
                ASSERT_TRUE(memcmp(printed, text, len) == 0);

                unit_file_hash(uf, h1);
                sha256_hex(text, len, h2);
                ASSERT_STR(h1, h2);
        }
}

/* Every prefix of every fixture either fails with a message or round-trips, and changes to it
 * print text that parses back to the same model. */
TEST(corpus_prefixes) {
        _cleanup_strv_free_ char **names = list_dir("units");

        ASSERT_TRUE(names);
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *text = NULL;
                size_t len;

                ASSERT_INT(read_fixture("units", *name, &text, &len), 0);
                for (size_t n = 0; n <= len; n++) {
                        _cleanup_free_ char *printed = NULL, *error = NULL;
                        _cleanup_unit_file_free_ UnitFile *uf = NULL;
                        int r;

                        r = unit_file_parse(text, n, *name, &uf, &error);
                        if (r < 0) {
                                ASSERT_INT(r, -EBADMSG);
                                ASSERT_CONTAINS(error, *name);
                                continue;
                        }
                        ASSERT_TRUE(!error);
                        ASSERT_INT(unit_file_print(uf, &printed), 0);
                        ASSERT_INT(strlen(printed), n);
                        ASSERT_TRUE(memcmp(printed, text, n) == 0);

                        ASSERT_INT(unit_file_add(uf, "Service", "X-Added", "1"), 0);
                        ASSERT_INT(unit_file_add(uf, "X-Fleet", "Global", "true"), 0);
                        ASSERT_INT(unit_file_set(uf, "Unit", "Description", "changed"), 0);
                        ASSERT_TRUE(reparses_same(uf));
                        ASSERT_STR(unit_file_get(uf, "Service", "X-Added"), "1");
                        ASSERT_STR(unit_file_get(uf, "X-Fleet", "Global"), "true");
                        ASSERT_STR(unit_file_get(uf, "Unit", "Description"), "changed");
                }
        }
}

/* Each file in units-bad/ starts with "## error: MESSAGE", the exact error it must give. */
TEST(corpus_errors) {
        _cleanup_strv_free_ char **names = list_dir("units-bad");

        ASSERT_TRUE(names);
        ASSERT_TRUE(strv_length(names) >= 15);
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *text = NULL, *error = NULL, *expected = NULL;
                UnitFile *uf = NULL;
                const char *start, *end;
                size_t len;

                ASSERT_INT(read_fixture("units-bad", *name, &text, &len), 0);
                start = startswith(text, "\xef\xbb\xbf") ?: text;
                start = startswith(start, "## error: ");
                ASSERT_TRUE(start);
                end = strchr(start, '\n');
                ASSERT_TRUE(end);
                expected = strndup(start, end - start);

                ASSERT_INT(unit_file_parse(text, len, *name, &uf, &error), -EBADMSG);
                ASSERT_TRUE(!uf);
                ASSERT_STR(error, expected);
        }
}

TEST(lookups_and_duplicates) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_fixture("duplicates.service");
        _cleanup_strv_free_ char **none = NULL;

        ASSERT_TRUE(uf);
        ASSERT_STR(unit_file_get(uf, "Unit", "After"), "b.service");
        ASSERT_VALUES(uf, "Unit", "After", "a.service", "b.service");
        /* "ExecStartPre=" drops the values before it. */
        ASSERT_STR(unit_file_get(uf, "Service", "ExecStartPre"), "/bin/echo four");
        ASSERT_VALUES(uf, "Service", "ExecStartPre", "/bin/echo three", "/bin/echo four");
        /* [Service] appears twice: both count, in order. */
        ASSERT_VALUES(uf, "Service", "Environment", "A=1", "B=2");
        ASSERT_VALUES(uf, "Service", "ExecStart", "/bin/false");
        ASSERT_STR(unit_file_get(uf, "Service", "ExecStart"), "/bin/false");
        ASSERT_STR(unit_file_get(uf, "Install", "WantedBy"), "multi-user.target");

        /* Case-sensitive, like systemd. */
        ASSERT_TRUE(unit_file_get(uf, "service", "ExecStart") == NULL);
        ASSERT_TRUE(unit_file_get(uf, "Service", "execstart") == NULL);
        ASSERT_TRUE(unit_file_has_section(uf, "Install"));
        ASSERT_TRUE(!unit_file_has_section(uf, "install"));
        ASSERT_TRUE(!unit_file_has_section(uf, "X-Fleet"));
        ASSERT_TRUE(!unit_file_has_section(uf, NULL));

        ASSERT_TRUE(unit_file_get(uf, "Service", "Missing") == NULL);
        ASSERT_TRUE(unit_file_get(uf, "Missing", "ExecStart") == NULL);
        ASSERT_INT(unit_file_get_all(uf, "Service", "Missing", &none), 0);
        ASSERT_TRUE(none && !none[0]);
}

TEST(values_as_systemd_reads_them) {
        _cleanup_unit_file_free_ UnitFile *t = parse_fixture("tricky-comments.service");
        _cleanup_unit_file_free_ UnitFile *c = parse_fixture("continuation.service");
        _cleanup_unit_file_free_ UnitFile *crlf = parse_fixture("crlf.service");
        _cleanup_unit_file_free_ UnitFile *u = parse_fixture("unicode.service");
        _cleanup_unit_file_free_ UnitFile *bom = parse_fixture("bom.service");
        _cleanup_unit_file_free_ UnitFile *open = parse_fixture("open-continuation.service");
        _cleanup_unit_file_free_ UnitFile *open2 = parse_fixture("open-continuation-comment.service");
        _cleanup_unit_file_free_ UnitFile *hdr = parse_fixture("continued-header.service");
        _cleanup_unit_file_free_ UnitFile *sp = parse_fixture("specials.socket");

        ASSERT_TRUE(t && c && crlf && u && bom && open && open2 && hdr && sp);

        ASSERT_STR(unit_file_get(t, "Unit", "Description"), "spaces around the equals sign");
        ASSERT_STR(unit_file_get(t, "Unit", "Documentation"), "man:fleetd(8)  # not a comment: part of the value");
        ASSERT_STR(unit_file_get(t, "Unit", "After"), "network-online.target");
        ASSERT_STR(unit_file_get(t, "Unit", "Wants"), "network-online.target");
        ASSERT_TRUE(unit_file_get(t, "Unit", "Requires") == NULL);
        ASSERT_STR(unit_file_get(t, "Service", "Environment"), "A=b C=\"d e\"");
        ASSERT_STR(unit_file_get(t, "Service", "Empty"), "");
        ASSERT_STR(unit_file_get(t, "Service", "EmptyWithBlanks"), "");
        ASSERT_STR(unit_file_get(t, "Service", "Key"), "=starts with an equals sign");

        /* The backslash becomes a space and the next line is appended as it is; comment lines
         * in between are skipped; an even number of backslashes does not continue. */
        ASSERT_STR(unit_file_get(c, "Unit", "Description"), "continued    over two lines");
        ASSERT_STR(unit_file_get(c, "Service", "ExecStart"),
                   "/usr/bin/podman run          --rm          --name web          localhost/hello:1.0");
        ASSERT_STR(unit_file_get(c, "Service", "ExecStop"), "/bin/echo escaped backslash at the end \\\\");
        ASSERT_STR(unit_file_get(c, "Service", "ExecStopPost"), "/bin/echo backslash then blank \\");
        ASSERT_STR(unit_file_get(c, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
        ASSERT_STR(unit_file_get(c, "Service", "Environment"), "ONE=1 \\\\   TWO=2");
        ASSERT_STR(unit_file_get(c, "Service", "KillMode"), "mixed");

        ASSERT_STR(unit_file_get(crlf, "Unit", "Description"), "CRLF line ends");
        ASSERT_STR(unit_file_get(crlf, "Service", "ExecStart"), "/bin/echo a    b");
        ASSERT_STR(unit_file_get(crlf, "Service", "ExecStop"), "/bin/true");

        ASSERT_STR(unit_file_get(u, "Unit", "Description"),
                   "Grüße aus Köln, 東京からこんにちは, emoji 🚀");
        ASSERT_STR(unit_file_get(u, "Service", "ExecStart"), "/bin/echo 𝄞");

        ASSERT_STR(unit_file_get(bom, "Unit", "Description"), "starts with a UTF-8 byte order mark");

        ASSERT_STR(unit_file_get(open, "Service", "ExecStart"),
                   "/bin/echo the file ends inside a continued line");
        ASSERT_STR(unit_file_get(open2, "Service", "ExecStart"), "/bin/echo continued");

        ASSERT_TRUE(unit_file_has_section(hdr, "Ser vice"));
        ASSERT_STR(unit_file_get(sp, " Spaced Section ", "Key"), "value");
        ASSERT_STR(unit_file_get(sp, "Socket", "X-Custom"), "a=b=c ; d # e");
        ASSERT_STR(unit_file_get(sp, "Socket", "Section"), "[NotAHeader]");
}

TEST(iteration) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_fixture("x-fleet@.service");
        _cleanup_unit_file_free_ UnitFile *dup = parse_fixture("duplicates.service");
        static const char *const keys[] = { "MachineMetadata", "MachineMetadata", "MachineMetadata",
                                            "Conflicts", "Replaces", "Global" };
        static const char *const sections[] = { "Unit", "Service", "Install", "Service" };
        static const unsigned header_lines[] = { 1, 6, 15, 18 };
        size_t n = 0, total = 0;

        ASSERT_TRUE(uf && dup);
        UNIT_FILE_FOREACH_ENTRY(e, uf, "X-Fleet") {
                ASSERT_TRUE(n < ELEMENTSOF(keys));
                ASSERT_STR(e.section, "X-Fleet");
                ASSERT_STR(e.key, keys[n]);
                ASSERT_INT(e.line, 11 + n);
                n++;
        }
        ASSERT_INT(n, ELEMENTSOF(keys));

        UNIT_FILE_FOREACH_ENTRY(e, uf, NULL)
                total++;
        ASSERT_INT(total, 1 + 3 + 6);

        n = 0;
        UNIT_FILE_FOREACH_SECTION(s, dup) {
                ASSERT_TRUE(n < ELEMENTSOF(sections));
                ASSERT_STR(s.name, sections[n]);
                ASSERT_INT(s.line, header_lines[n]);
                n++;
        }
        ASSERT_INT(n, ELEMENTSOF(sections));

        n = 0;
        UNIT_FILE_FOREACH_ENTRY(e, dup, "Service")
                n++;
        ASSERT_INT(n, 7 + 3);
}

TEST(build_new_file) {
        _cleanup_unit_file_free_ UnitFile *uf = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_INT(unit_file_new(&uf), 0);
        text = print_string(uf);
        ASSERT_STR(text, "");
        free(text);

        ASSERT_INT(unit_file_ensure_section(uf, "Unit"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "ExecStart", "/usr/bin/podman run --rm hello"), 0);
        ASSERT_INT(unit_file_add(uf, "Unit", "Description", "hello web 1"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "ExecStartPre", "-/usr/bin/podman rm -f hello"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "ExecStartPre", "/bin/true"), 0);
        ASSERT_INT(unit_file_set(uf, "Service", "KillMode", "mixed"), 0);
        ASSERT_INT(unit_file_add(uf, "X-Fleet", "MachineMetadata", "role=web"), 0);
        ASSERT_INT(unit_file_ensure_section(uf, "Unit"), 0);

        text = print_string(uf);
        ASSERT_STR(text,
                   "[Unit]\n"
                   "Description=hello web 1\n"
                   "\n"
                   "[Service]\n"
                   "ExecStart=/usr/bin/podman run --rm hello\n"
                   "ExecStartPre=-/usr/bin/podman rm -f hello\n"
                   "ExecStartPre=/bin/true\n"
                   "KillMode=mixed\n"
                   "\n"
                   "[X-Fleet]\n"
                   "MachineMetadata=role=web\n");
        ASSERT_TRUE(reparses_same(uf));
}

TEST(add_goes_after_the_last_entry) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_string("# head\n"
                                                             "[Unit]\n"
                                                             "# just a comment\n"
                                                             "\n"
                                                             "[Service]\n"
                                                             "ExecStart=/bin/a\n"
                                                             "# a trailing comment\n"
                                                             "\n"
                                                             "[Install]\n"
                                                             "WantedBy=x.target");
        _cleanup_free_ char *text = NULL;

        ASSERT_TRUE(uf);
        ASSERT_INT(unit_file_add(uf, "Unit", "Description", "d"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "Restart", "always"), 0);
        ASSERT_INT(unit_file_add(uf, "Install", "Alias", "y.service"), 0);
        ASSERT_INT(unit_file_add(uf, "New", "K", "v"), 0);
        text = print_string(uf);
        ASSERT_STR(text,
                   "# head\n"
                   "[Unit]\n"
                   "Description=d\n"
                   "# just a comment\n"
                   "\n"
                   "[Service]\n"
                   "ExecStart=/bin/a\n"
                   "Restart=always\n"
                   "# a trailing comment\n"
                   "\n"
                   "[Install]\n"
                   "WantedBy=x.target\n"
                   "Alias=y.service\n"
                   "\n"
                   "[New]\n"
                   "K=v\n");
        ASSERT_TRUE(reparses_same(uf));
}

TEST(add_to_last_of_repeated_section) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_fixture("duplicates.service");
        _cleanup_free_ char *text = NULL;

        ASSERT_TRUE(uf);
        ASSERT_INT(unit_file_add(uf, "Service", "Environment", "C=3"), 0);
        text = print_string(uf);
        ASSERT_TRUE(ends_with(text, "ExecStart=/bin/false\nEnvironment=C=3\n"));
        ASSERT_VALUES(uf, "Service", "Environment", "A=1", "B=2", "C=3");
}

TEST(add_at_the_end_of_the_text) {
        _cleanup_unit_file_free_ UnitFile *a = parse_fixture("no-final-newline.service");
        _cleanup_unit_file_free_ UnitFile *b = parse_fixture("open-continuation.service");
        _cleanup_unit_file_free_ UnitFile *c = parse_fixture("open-continuation-comment.service");
        _cleanup_unit_file_free_ UnitFile *d = parse_fixture("crlf.service");
        _cleanup_unit_file_free_ UnitFile *e = parse_string("[Service] \\");
        _cleanup_free_ char *ta = NULL, *tb = NULL, *tc = NULL, *td = NULL, *te = NULL;

        ASSERT_TRUE(a && b && c && d && e);

        /* The missing newline is added before the new line. */
        ASSERT_INT(unit_file_add(a, "Service", "Restart", "always"), 0);
        ta = print_string(a);
        ASSERT_TRUE(ends_with(ta, "\nExecStart=/bin/true\nRestart=always\n"));

        /* An open continuation is ended by an empty line, so it does not swallow the new one. */
        ASSERT_INT(unit_file_add(b, "Service", "Restart", "always"), 0);
        tb = print_string(b);
        ASSERT_TRUE(ends_with(tb, "continued line \\\n\nRestart=always\n"));
        ASSERT_STR(unit_file_get(b, "Service", "ExecStart"), "/bin/echo the file ends inside a continued line");
        ASSERT_TRUE(reparses_same(b));

        ASSERT_INT(unit_file_add(c, "Service", "Restart", "always"), 0);
        tc = print_string(c);
        ASSERT_TRUE(ends_with(tc, "# then only a comment before the end\n\nRestart=always\n"));
        ASSERT_TRUE(reparses_same(c));

        /* Lines added to a CRLF file end in CRLF. */
        ASSERT_INT(unit_file_add(d, "Service", "Restart", "always"), 0);
        ASSERT_INT(unit_file_add(d, "X-Fleet", "Global", "true"), 0);
        td = print_string(d);
        ASSERT_TRUE(ends_with(td, "ExecStop=/bin/true\r\nRestart=always\r\n\r\n[X-Fleet]\r\nGlobal=true\r\n"));
        ASSERT_TRUE(reparses_same(d));

        /* A header left open by the end of the text. */
        ASSERT_INT(unit_file_add(e, "Service", "Type", "simple"), 0);
        te = print_string(e);
        ASSERT_STR(te, "[Service] \\\n\nType=simple\n");
        ASSERT_TRUE(reparses_same(e));
}

TEST(set_and_remove) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_fixture("duplicates.service");
        _cleanup_unit_file_free_ UnitFile *nl = parse_fixture("no-final-newline.service");
        _cleanup_free_ char *text = NULL, *tnl = NULL;

        ASSERT_TRUE(uf && nl);

        /* The first assignment is rewritten in place, the others go. */
        ASSERT_INT(unit_file_set(uf, "Service", "ExecStartPre", "/bin/only"), 0);
        ASSERT_VALUES(uf, "Service", "ExecStartPre", "/bin/only");
        ASSERT_INT(unit_file_set(uf, "Service", "Environment", "Z=26"), 0);
        ASSERT_VALUES(uf, "Service", "Environment", "Z=26");
        ASSERT_INT(unit_file_set(uf, "Install", "Alias", "dup.service"), 0);
        ASSERT_INT(unit_file_set(uf, "Unit", "After", ""), 0);
        ASSERT_STR(unit_file_get(uf, "Unit", "After"), "");
        ASSERT_INT(unit_file_remove_key(uf, "Service", "ExecStart"), 3);
        ASSERT_INT(unit_file_remove_key(uf, "Service", "ExecStart"), 0);
        ASSERT_INT(unit_file_remove_key(uf, "Nope", "ExecStart"), 0);
        ASSERT_TRUE(unit_file_get(uf, "Service", "ExecStart") == NULL);

        text = print_string(uf);
        ASSERT_STR(text,
                   "[Unit]\n"
                   "Description=duplicate keys and sections\n"
                   "After=\n"
                   "\n"
                   "[Service]\n"
                   "ExecStartPre=/bin/only\n"
                   "Environment=Z=26\n"
                   "\n"
                   "[Install]\n"
                   "WantedBy=multi-user.target\n"
                   "Alias=dup.service\n"
                   "\n"
                   "[Service]\n");
        ASSERT_TRUE(reparses_same(uf));

        /* A rewritten last line keeps lacking its newline. */
        ASSERT_INT(unit_file_set(nl, "Service", "ExecStart", "/bin/false"), 0);
        tnl = print_string(nl);
        ASSERT_TRUE(ends_with(tnl, "[Service]\nExecStart=/bin/false"));
}

TEST(changes_refuse_what_would_not_parse_back) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_fixture("duplicates.service");
        _cleanup_free_ char *before = NULL, *after = NULL;
        static const char *const bad_sections[] = { "", "A]", "[A", "a\"b", "a'b", "a\\b", "a\nb", "a\x01" };
        static const char *const bad_keys[] = { "", "A B", "A=B", "#A", ";A", "[A", " A", "A\t", "\xff" };
        static const char *const bad_values[] = { "x\n", "x\ry", " x", "x ", "\tx", "x\\", "a \\\\\\",
                                                  "caf\xe9" };

        ASSERT_TRUE(uf);
        before = print_string(uf);
        for (size_t i = 0; i < ELEMENTSOF(bad_sections); i++) {
                ASSERT_INT(unit_file_add(uf, bad_sections[i], "K", "v"), -EINVAL);
                ASSERT_INT(unit_file_set(uf, bad_sections[i], "K", "v"), -EINVAL);
                ASSERT_INT(unit_file_ensure_section(uf, bad_sections[i]), -EINVAL);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_keys); i++) {
                ASSERT_INT(unit_file_add(uf, "Service", bad_keys[i], "v"), -EINVAL);
                ASSERT_INT(unit_file_set(uf, "Service", bad_keys[i], "v"), -EINVAL);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                ASSERT_INT(unit_file_add(uf, "Service", "K", bad_values[i]), -EINVAL);
                ASSERT_INT(unit_file_set(uf, "Service", "ExecStart", bad_values[i]), -EINVAL);
        }
        ASSERT_INT(unit_file_add(uf, "Service", "K", NULL), -EINVAL);
        ASSERT_INT(unit_file_add(uf, NULL, "K", "v"), -EINVAL);
        ASSERT_INT(unit_file_add(uf, "Service", NULL, "v"), -EINVAL);

        char *big = malloc(UNIT_FILE_LINE_MAX + 1);
        ASSERT_TRUE(big);
        memset(big, 'x', UNIT_FILE_LINE_MAX);
        big[UNIT_FILE_LINE_MAX] = 0;
        ASSERT_INT(unit_file_add(uf, "Service", "K", big), -ENOBUFS);
        free(big);

        after = print_string(uf);
        ASSERT_STR(after, before);

        /* An even number of trailing backslashes, inner blanks and '#' are fine. */
        ASSERT_INT(unit_file_add(uf, "Service", "K", "a \\\\"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "K", "a # b ; c"), 0);
        ASSERT_INT(unit_file_add(uf, "Service", "Ünïcode", "東京"), 0);
        ASSERT_VALUES(uf, "Service", "K", "a \\\\", "a # b ; c");
        ASSERT_TRUE(reparses_same(uf));
}

TEST(hash) {
        _cleanup_unit_file_free_ UnitFile *a = parse_string("[Service]\nExecStart=/bin/true\n");
        _cleanup_unit_file_free_ UnitFile *b = parse_string("[Service]\nExecStart=/bin/true\n");
        _cleanup_unit_file_free_ UnitFile *c = parse_string("[Service]\nExecStart=/bin/truE\n");
        _cleanup_unit_file_free_ UnitFile *d = parse_string("[Service]\nExecStart=/bin/true");
        _cleanup_unit_file_free_ UnitFile *empty = NULL;
        char ha[SHA256_HEX_SIZE], hb[SHA256_HEX_SIZE], hc[SHA256_HEX_SIZE], hd[SHA256_HEX_SIZE],
                he[SHA256_HEX_SIZE], again[SHA256_HEX_SIZE];

        ASSERT_TRUE(a && b && c && d);
        ASSERT_INT(unit_file_new(&empty), 0);
        unit_file_hash(a, ha);
        unit_file_hash(b, hb);
        unit_file_hash(c, hc);
        unit_file_hash(d, hd);
        unit_file_hash(empty, he);
        unit_file_hash(a, again);

        ASSERT_INT(strlen(ha), 64);
        ASSERT_STR(ha, hb);
        ASSERT_STR(ha, again);
        ASSERT_TRUE(!streq(ha, hc));
        ASSERT_TRUE(!streq(ha, hd));
        ASSERT_STR(he, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        ASSERT_STR(ha, "d4fded2cad024081ba5944d682e2edad1ba9832d97c2111bb07d1d323d735330");
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);

        if (s) {
                memset(s, c, n);
                s[n] = 0;
        }
        return s;
}

TEST(limits) {
        _cleanup_free_ char *big = NULL, *line = NULL, *text = NULL, *text2 = NULL, *error = NULL,
                            *error2 = NULL, *error3 = NULL;
        _cleanup_unit_file_free_ UnitFile *ok = NULL, *ok2 = NULL;
        UnitFile *uf = NULL;

        /* The whole text. */
        big = repeat('\n', UNIT_FILE_SIZE_MAX + 1);
        ASSERT_TRUE(big);
        ASSERT_INT(unit_file_parse(big, UNIT_FILE_SIZE_MAX + 1, "big.service", &uf, &error), -EFBIG);
        ASSERT_STR(error, "big.service: unit file is 1048577 bytes; the limit is 1048576 bytes");
        ASSERT_INT(unit_file_parse(big, UNIT_FILE_SIZE_MAX, "big.service", &ok, NULL), 0);

        /* One line, and one line made of continuation lines. */
        line = repeat('x', UNIT_FILE_LINE_MAX - strlen("K="));
        ASSERT_TRUE(line);
        ASSERT_TRUE(asprintf(&text, "[S]\nK=%s\n", line) > 0);
        ASSERT_INT(unit_file_parse(text, strlen(text), "line.service", &ok2, NULL), 0);
        ASSERT_INT(strlen(unit_file_get(ok2, "S", "K")), UNIT_FILE_LINE_MAX - 2);

        free(text);
        ASSERT_TRUE(asprintf(&text, "[S]\nK=%sx\n", line) > 0);
        ASSERT_INT(unit_file_parse(text, strlen(text), "line.service", &uf, &error2), -ENOBUFS);
        ASSERT_STR(error2, "line.service:2:1: line is longer than 16384 bytes");

        line[UNIT_FILE_LINE_MAX / 2] = 0;
        ASSERT_TRUE(asprintf(&text2, "[S]\n# c\nK=%s\\\n%s\\\n", line, line) > 0);
        ASSERT_INT(unit_file_parse(text2, strlen(text2), "cont.service", &uf, &error3), -ENOBUFS);
        ASSERT_STR(error3, "cont.service:3:1: line is longer than 16384 bytes (continuation lines included)");
        ASSERT_TRUE(!uf);
}

TEST(errors_without_message_and_inline) {
        UnitFile *uf = NULL;
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;

        ASSERT_INT(unit_file_parse("[Unit]\nKey\n", 11, "x.service", &uf, NULL), -EBADMSG);
        ASSERT_TRUE(!uf);
        ASSERT_INT(unit_file_parse("[Unit]\nfoo\n", 11, NULL, &uf, &e1), -EBADMSG);
        ASSERT_STR(e1, "<input>:2:1: expected a [Section] header, Key=Value or a comment, got 'foo'");

        /* Long lines are cut in the message. */
        ASSERT_INT(unit_file_parse("[Unit]\n   this line has no equals sign and goes on and on and on and on and on\n",
                                   83, "y.service", &uf, &e2), -EBADMSG);
        ASSERT_STR(e2, "y.service:2:4: expected a [Section] header, Key=Value or a comment, got "
                       "'this line has no equals sign and goes on and on and on and o...'");

        /* Control characters are not echoed as they are. */
        ASSERT_INT(unit_file_parse("[Unit]\n\x1b[31mred\tline\n", 21, "c.service", &uf, &e4), -EBADMSG);
        ASSERT_STR(e4, "c.service:2:1: expected a [Section] header, Key=Value or a comment, got "
                       "'\\x1b[31mred\\x09line'");

        /* Not NUL-terminated: only len bytes count. */
        ASSERT_INT(unit_file_parse("[Unit]\nA=1\nGARBAGE", 11, "z.service", &uf, &e3), 0);
        ASSERT_TRUE(!e3);
        ASSERT_STR(unit_file_get(uf, "Unit", "A"), "1");
        uf = unit_file_free(uf);
}

/* Text before the first header: kept, printed, ignored by lookups, and pointed at. */
TEST(text_before_the_first_header) {
        const char *text = "# comment\n\nDescription=x\nno equals sign \\\n  continued\n[Unit]\nDescription=y\n";
        _cleanup_unit_file_free_ UnitFile *uf = parse_string(text), *plain = parse_string("# c\n[Unit]\nA=1\n");
        _cleanup_free_ char *printed = NULL;

        ASSERT_TRUE(uf);
        ASSERT_INT(unit_file_ignored_line(uf), 3);
        ASSERT_STR(unit_file_get(uf, "Unit", "Description"), "y");
        ASSERT_VALUES(uf, "Unit", "Description", "y");
        ASSERT_INT(unit_file_print(uf, &printed), 0);
        ASSERT_STR(printed, text);
        ASSERT_TRUE(reparses_same(uf));
        ASSERT_INT(unit_file_add(uf, "Service", "ExecStart", "/bin/true"), 0);
        ASSERT_TRUE(reparses_same(uf));
        ASSERT_INT(unit_file_ignored_line(plain), 0);
}

TEST(long_line) {
        _cleanup_unit_file_free_ UnitFile *uf = parse_string("[Unit]\nA=123456\r\nB=1 \\\n# c\n123456789\nC=1\n");
        size_t len = 0;

        ASSERT_TRUE(uf);
        ASSERT_INT(unit_file_long_line(uf, 7, &len), 2);
        ASSERT_INT(len, 8);
        /* A continuation line counts on its own, with its number. */
        ASSERT_INT(unit_file_long_line(uf, 8, &len), 5);
        ASSERT_INT(len, 9);
        ASSERT_INT(unit_file_long_line(uf, 9, NULL), 0);
        /* Lines added since are not looked at. */
        ASSERT_INT(unit_file_add(uf, "Unit", "Added", "a much longer line than the others"), 0);
        ASSERT_INT(unit_file_long_line(uf, 9, NULL), 0);
}

TEST(load) {
        _cleanup_unit_file_free_ UnitFile *uf = NULL;
        _cleanup_free_ char *path = NULL, *missing = NULL, *bad = NULL, *e1 = NULL, *e2 = NULL, *expected = NULL;
        UnitFile *none = NULL;

        ASSERT_TRUE(asprintf(&path, "%s/units/getty@.service", arg_data_dir) > 0);
        ASSERT_INT(unit_file_load(path, &uf, NULL), 0);
        ASSERT_STR(unit_file_get(uf, "Unit", "Description"), "Getty on %I");
        ASSERT_STR(unit_file_get(uf, "Install", "WantedBy"), "getty.target");

        ASSERT_TRUE(asprintf(&missing, "%s/units/does-not-exist.service", arg_data_dir) > 0);
        ASSERT_INT(unit_file_load(missing, &none, &e1), -ENOENT);
        ASSERT_TRUE(asprintf(&expected, "%s: No such file or directory", missing) > 0);
        ASSERT_STR(e1, expected);

        ASSERT_TRUE(asprintf(&bad, "%s/units-bad/missing-equals.service", arg_data_dir) > 0);
        ASSERT_INT(unit_file_load(bad, &none, &e2), -EBADMSG);
        ASSERT_CONTAINS(e2, "units-bad/missing-equals.service:3:1: expected");
        ASSERT_TRUE(!none);
}

/* A file of n newlines in a temporary directory; the path in *ret. */
static int write_temp(size_t n, char **ret) {
        _cleanup_free_ char *text = repeat('\n', n);
        char path[] = "/tmp/test-unit-file-XXXXXX";
        int fd;

        fd = mkstemp(path);
        if (fd < 0 || !text)
                return -errno;
        if (write(fd, text, n) != (ssize_t) n) {
                close(fd);
                return -EIO;
        }
        close(fd);
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

TEST(read_limit) {
        _cleanup_free_ char *at = NULL, *over = NULL, *text = NULL, *error = NULL, *expected = NULL;
        _cleanup_unit_file_free_ UnitFile *uf = NULL;
        UnitFile *none = NULL;
        size_t len = 0;

        ASSERT_INT(write_temp(UNIT_FILE_SIZE_MAX, &at), 0);
        ASSERT_INT(write_temp(UNIT_FILE_SIZE_MAX + 1, &over), 0);

        ASSERT_INT(unit_file_read_text(at, &text, &len), 0);
        ASSERT_INT(len, UNIT_FILE_SIZE_MAX);
        ASSERT_INT(unit_file_load(at, &uf, NULL), 0);

        free(text);
        text = NULL;
        ASSERT_INT(unit_file_read_text(over, &text, &len), -EFBIG);
        ASSERT_TRUE(!text);
        ASSERT_INT(unit_file_load(over, &none, &error), -EFBIG);
        ASSERT_TRUE(asprintf(&expected, "%s: unit file is larger than 1048576 bytes", over) > 0);
        ASSERT_STR(error, expected);

        (void) unlink(at);
        (void) unlink(over);
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(corpus_round_trip),
                T(corpus_prefixes),
                T(corpus_errors),
                T(lookups_and_duplicates),
                T(values_as_systemd_reads_them),
                T(iteration),
                T(build_new_file),
                T(add_goes_after_the_last_entry),
                T(add_to_last_of_repeated_section),
                T(add_at_the_end_of_the_text),
                T(set_and_remove),
                T(changes_refuse_what_would_not_parse_back),
                T(hash),
                T(limits),
                T(errors_without_message_and_inline),
                T(text_before_the_first_header),
                T(long_line),
                T(load),
                T(read_limit),
        };

        arg_data_dir = argc > 1 ? argv[1] : getenv("FLEETD_TEST_DATA");
        if (!arg_data_dir) {
                fprintf(stderr, "usage: %s TESTS_DATA_DIR (or set FLEETD_TEST_DATA)\n", argv[0]);
                return EXIT_FAILURE;
        }
        return run_tests(cases, ELEMENTSOF(cases));
}
