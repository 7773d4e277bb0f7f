/* SPDX-License-Identifier: Apache-2.0 */
/* unit_options_parse(): [X-Fleet] read as fleet v1.0 read it (see unit-options.h), case by case,
 * then the fixtures in tests/data/xfleet/ with their "## expect-..." lines. */
#include <dirent.h>
#include <stdio.h>

#include "basic/strv.h"
#include "unit-options.h"
#include "../tests.h"

/* The fixture directory (tests/data/xfleet), given as the first argument by meson. */
static const char *arg_data_dir;

/* One case: the [X-Fleet] lines (line 5 on) of a small service, or a whole text, read as the
 * unit name; the lists expected as "a|b|c" ("" for none), and every warning and error in order,
 * each by a part of its text. */
typedef struct Case {
        const char *what;
        const char *name;
        const char *xfleet;       /* the lines after "[X-Fleet]" */
        const char *text;         /* or the whole text */
        const char *machine_id;   /* NULL: none */
        const char *machine_of;
        const char *metadata;
        const char *conflicts;
        const char *replaces;
        bool global;
        const char *const *warnings;
        const char *const *errors;
} Case;

#define W(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define PRE "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\n"

static const Case cases[] = {
        /* Quoted values, for every option. */
        { "quoted metadata pairs", "t.service", "MachineMetadata=\"region=us-east-1\" \"diskType=SSD\"",
          .metadata = "region=us-east-1|diskType=SSD" },
        { "one quoted pair", "t.service", "MachineMetadata=\"a=b\"", .metadata = "a=b" },
        { "blank inside quotes", "t.service", "MachineMetadata=\"room=lab 2\"", .metadata = "room=lab 2" },
        { "tabs and runs of blanks", "t.service", "MachineMetadata=\"a=b\"\t  \"c=d\"", .metadata = "a=b|c=d" },
        { "quoted MachineOf", "t.service", "MachineOf=\"db.service\" \"cache.service\"",
          .machine_of = "db.service|cache.service" },
        { "quoted Conflicts", "t.service", "Conflicts=\"a*\" \"b@*.service\"", .conflicts = "a*|b@*.service" },
        { "quoted Replaces", "t.service", "Replaces=\"old.service\"", .replaces = "old.service" },
        { "quoted Global", "t.service", "Global=\"true\"", .global = true },
        { "quoted MachineID, first wins", "t.service", "MachineID=\"aaa\" \"bbb\"", .machine_id = "aaa",
          .warnings = W("t.service:5: MachineID=bbb is ignored: the first machine ID, aaa (line 5), wins") },
        { "quotes that do not close the value", "t.service", "MachineMetadata=\"a=b\" c=d",
          .warnings = W("t.service:5: MachineMetadata=\"a=b\" c=d is not key=value and is ignored") },
        { "nothing but quotes", "t.service", "MachineOf=\"\"",
          .warnings = W("t.service:5: empty MachineOf= is ignored") },

        /* Specifiers, for the unit being read. */
        { "sidekick", "apache-discovery@2.service", "MachineOf=apache@%i.service", .machine_of = "apache@2.service" },
        { "MachineID per instance", "pin@0123456789abcdef0123456789abcdef.service", "MachineID=%i",
          .machine_id = "0123456789abcdef0123456789abcdef" },
        { "metadata per instance", "at@host1.service", "MachineMetadata=hostname=%i", .metadata = "hostname=host1" },
        { "%n %N %p", "web@3.service",
          "MachineMetadata=\"unit=%n\" \"name=%N\" \"prefix=%p\"\nConflicts=%p@*.service",
          .metadata = "unit=web@3.service|name=web@3|prefix=web", .conflicts = "web@*.service" },
        { "Replaces per instance", "web@3.service", "Replaces=%p-old@%i.service", .replaces = "web-old@3.service" },
        { "plain name: %i is empty", "db.service", "MachineMetadata=k=%p%i", .metadata = "k=db" },
        { "quoted parts are expanded one by one", "a@1.service", "MachineOf=\"b@%i.service\" \"c@%i.service\"",
          .machine_of = "b@1.service|c@1.service" },
        { "other specifiers stay", "a@1.service", "MachineMetadata=host=%H", .metadata = "host=%H",
          .warnings = W("a@1.service:5: MachineMetadata=host=%H: '%H' is left as it is") },
        { "%% is not an escape in fleet", "a@1.service", "MachineMetadata=x=%%i", .metadata = "x=%1",
          .warnings = W("'%%' is left as it is") },
        { "a % at the end", "a@1.service", "MachineMetadata=x=5%", .metadata = "x=5%",
          .warnings = W("'%' is left as it is") },
        { "template: %i stays", "apache-discovery@.service", "MachineOf=apache@%i.service\nMachineMetadata=host=%i",
          .machine_of = "apache@%i.service", .metadata = "host=%i" },
        { "template: the rest is expanded", "web@.service", "MachineMetadata=\"a=%n\" \"b=%N\" \"c=%p\"",
          .metadata = "a=web@.service|b=web@|c=web" },
        { "template: checked as written, as fleet did", "apache-discovery@.service",
          "MachineOf=apache@%i.service\nConflicts=apache@*.service", .machine_of = "apache@%i.service",
          .conflicts = "apache@*.service", .errors = W("MachineOf=apache@%i.service is matched by Conflicts=apache@*") },
        { "template: MachineID=%i is a machine ID", "etcd@.service", "MachineID=%i\nGlobal=true",
          .machine_id = "%i", .global = true, .errors = W("MachineID= cannot be used with Global=true") },
        { "no name: nothing expanded", NULL, "MachineOf=apache@%i.service", .machine_of = "apache@%i.service" },

        /* Deprecated spellings. */
        { "X-ConditionMachineOf", "t.service", "X-ConditionMachineOf=db.service", .machine_of = "db.service",
          .warnings = W("t.service:5: X-ConditionMachineOf= is deprecated; write MachineOf= (read the same)") },
        { "X-Conflicts", "t.service", "X-Conflicts=db*\nConflicts=web*", .conflicts = "db*|web*",
          .warnings = W("X-Conflicts= is deprecated; write Conflicts=") },
        { "X-ConditionMachineMetadata", "t.service", "X-ConditionMachineMetadata=role=db", .metadata = "role=db",
          .warnings = W("X-ConditionMachineMetadata= is deprecated; write MachineMetadata=") },
        { "X-ConditionMachineID", "t.service", "X-ConditionMachineID=abc", .machine_id = "abc",
          .warnings = W("X-ConditionMachineID= is deprecated; write MachineID=") },
        { "X-ConditionMachineBootID", "t.service", "X-ConditionMachineBootID=abc", .machine_id = "abc",
          .warnings = W("X-ConditionMachineBootID= is deprecated; write MachineID=") },
        { "MachineID beats X-ConditionMachineID", "t.service", "X-ConditionMachineID=aaa\nMachineID=bbb",
          .machine_id = "bbb",
          .warnings = W("is deprecated", "t.service:5: the machine ID aaa is ignored: MachineID=bbb (line 6) wins") },
        { "X-ConditionMachineID beats X-ConditionMachineBootID", "t.service",
          "X-ConditionMachineID=aaa\nX-ConditionMachineBootID=bbb", .machine_id = "aaa",
          .warnings = W("is deprecated", "is deprecated", "X-ConditionMachineBootID=bbb is ignored") },

        /* Lists, Global, MachineID. */
        { "several Conflicts on one line", "t.service", "Conflicts=a.service b@*.service\tc*",
          .conflicts = "a.service|b@*.service|c*" },
        { "several MachineOf on one line", "t.service", "MachineOf=a.service b.service",
          .machine_of = "a.service|b.service",
          .warnings = W("MachineOf=a.service b.service: read as 2 unit names (fleet read it as one name") },
        { "MachineOf lines add up", "t.service", "MachineOf=a.service\nMachineOf=b.service",
          .machine_of = "a.service|b.service" },
        { "first MachineID wins", "t.service", "MachineID=aaa\nMachineID=bbb", .machine_id = "aaa",
          .warnings = W("t.service:6: MachineID=bbb is ignored") },
        { "Global true", "t.service", "Global=true", .global = true },
        { "Global yes", "t.service", "Global=yes", .global = true },
        { "Global 1", "t.service", "Global=1", .global = true },
        { "Global on", "t.service", "Global=on", .global = true },
        { "Global t", "t.service", "Global=t", .global = true },
        { "Global TRUE", "t.service", "Global=TRUE", .global = true },
        { "Global Yes", "t.service", "Global=Yes", .global = true },
        { "Global T", "t.service", "Global=T", .global = true },
        { "Global false", "t.service", "Global=false" },
        { "Global 0", "t.service", "Global=0" },
        { "Global Off", "t.service", "Global=Off" },
        { "Global typo", "t.service", "Global=ture",
          .warnings = W("t.service:5: Global=ture is neither true nor false: read as false") },
        { "last Global wins", "t.service", "Global=true\nGlobal=no" },
        { "empty Global is false", "t.service", "Global=true\nGlobal=" },
        { "an empty value resets nothing", "t.service", "MachineMetadata=a=b\nMachineMetadata=\nConflicts=x*\nConflicts=",
          .metadata = "a=b", .conflicts = "x*",
          .warnings = W("t.service:6: empty MachineMetadata= is ignored", "t.service:8: empty Conflicts= is ignored") },
        { "empty MachineID", "t.service", "MachineID=", .warnings = W("empty MachineID= is ignored") },

        /* MachineMetadata pairs. */
        { "several pairs unquoted", "t.service", "MachineMetadata=region=us-east-1 diskType=SSD",
          .metadata = "region=us-east-1|diskType=SSD",
          .warnings = W("t.service:5: MachineMetadata=region=us-east-1 diskType=SSD: read as 2 key=value pairs, but "
                        "fleet ignored this value") },
        { "a blank in a value", "t.service", "MachineMetadata=room=lab 2", .metadata = "room=lab 2" },
        { "no '='", "t.service", "MachineMetadata=role", .warnings = W("MachineMetadata=role is not key=value") },
        { "empty key", "t.service", "MachineMetadata==x", .warnings = W("is not key=value") },
        { "empty value", "t.service", "MachineMetadata=a=", .warnings = W("is not key=value") },
        { "two '='", "t.service", "MachineMetadata=a=b=c", .warnings = W("MachineMetadata=a=b=c is not key=value") },
        { "repeated keys", "t.service", "MachineMetadata=region=us-east\nMachineMetadata=region=us-west",
          .metadata = "region=us-east|region=us-west" },

        /* Keys and sections. */
        { "typo", "t.service", "MachineMetdata=role=web",
          .warnings = W("t.service:5: unknown [X-Fleet] key MachineMetdata= is ignored; did you mean MachineMetadata=?") },
        { "wrong case", "t.service", "machineof=db.service",
          .warnings = W("unknown [X-Fleet] key machineof= is ignored; did you mean MachineOf=?") },
        { "swapped letters", "t.service", "Conflcits=x", .warnings = W("did you mean Conflicts=?") },
        { "unknown key", "t.service", "Frobnicate=1", .warnings = W("t.service:5: unknown [X-Fleet] key Frobnicate= is ignored") },
        { "section in another case", "t.service", .text = "[Service]\nExecStart=/bin/true\n[x-fleet]\nGlobal=true\n",
          .warnings = W("t.service:3: [x-fleet] is not [X-Fleet] (section names are case-sensitive)") },
        { "repeated [X-Fleet]", "t.service",
          .text = "[X-Fleet]\nConflicts=a*\n[Service]\nExecStart=/bin/true\n[X-Fleet]\nConflicts=b*\n",
          .conflicts = "a*|b*" },
        { "text before the first header", "t.service", .text = "Description=x\nmore text\n[Service]\nExecStart=/bin/true\n",
          .warnings = W("t.service:1: text before the first [Section] header is ignored") },
        { "comments before the first header are fine", "t.service", .text = "# c\n\n; c\n[Service]\nExecStart=/bin/true\n" },
        { "control characters are escaped", "t.service", "MachineMetadata=\x1b[31m",
          .warnings = W("MachineMetadata=\\x1b[31m is not key=value") },
        { "MachineOf itself", "web.service", "MachineOf=%n", .machine_of = "web.service",
          .warnings = W("MachineOf=web.service names this unit itself") },
        { "MachineOf no unit can be", "web.service", "MachineOf=db", .machine_of = "db",
          .warnings = W("MachineOf=db: no unit can have this name") },
        { "MachineOf a template", "web.service", "MachineOf=db@.service", .machine_of = "db@.service",
          .warnings = W("no unit can have this name") },

        /* What fleet refused. */
        { "MachineID and MachineOf", "t.service", "MachineID=abc\nMachineOf=db.service", .machine_id = "abc",
          .machine_of = "db.service",
          .errors = W("t.service:5: MachineID= cannot be used with MachineOf= (line 6); fleet refuses this too") },
        { "MachineID and Conflicts", "t.service", "Conflicts=x*\nMachineID=abc", .machine_id = "abc", .conflicts = "x*",
          .errors = W("t.service:6: MachineID= cannot be used with Conflicts= (line 5)") },
        { "MachineID and Global", "t.service", "MachineID=abc\nGlobal=true", .machine_id = "abc", .global = true,
          .errors = W("t.service:5: MachineID= cannot be used with Global=true (line 6)") },
        { "MachineID and Replaces", "t.service", "MachineID=abc\nReplaces=old.service", .machine_id = "abc",
          .replaces = "old.service", .errors = W("MachineID= cannot be used with Replaces=") },
        { "Global and MachineOf", "t.service", "Global=yes\nMachineOf=db.service", .global = true,
          .machine_of = "db.service", .errors = W("t.service:5: Global=true cannot be used with MachineOf= (line 6)") },
        { "Global and Replaces", "t.service", "Global=1\nReplaces=old.service", .global = true,
          .replaces = "old.service", .errors = W("Global=true cannot be used with Replaces=") },
        { "Conflicts and Replaces", "t.service", "Conflicts=x*\nReplaces=old.service", .conflicts = "x*",
          .replaces = "old.service", .errors = W("t.service:5: Conflicts= cannot be used with Replaces= (line 6)") },
        { "all of them at once", "t.service", "MachineID=abc\nGlobal=true\nMachineOf=db.service\nConflicts=x*",
          .machine_id = "abc", .global = true, .machine_of = "db.service", .conflicts = "x*",
          .errors = W("MachineID= cannot be used with MachineOf=", "MachineID= cannot be used with Conflicts=",
                      "MachineID= cannot be used with Global=true", "Global=true cannot be used with MachineOf=") },
        { "deprecated spellings count", "t.service", "X-ConditionMachineID=abc\nX-ConditionMachineOf=db.service",
          .machine_id = "abc", .machine_of = "db.service", .warnings = W("deprecated", "deprecated"),
          .errors = W("MachineID= cannot be used with MachineOf=") },
        { "MachineOf matched by Conflicts", "web.service", "MachineOf=db@1.service\nConflicts=db@*",
          .machine_of = "db@1.service", .conflicts = "db@*",
          .errors = W("web.service:5: MachineOf=db@1.service is matched by Conflicts=db@* (line 6): the unit could "
                      "never be placed; fleet refuses this too") },
        { "MachineOf matched by Conflicts after expansion", "web@2.service",
          "MachineOf=db@%i.service\nConflicts=db@2*", .machine_of = "db@2.service", .conflicts = "db@2*",
          .errors = W("MachineOf=db@2.service is matched by Conflicts=db@2*") },
        { "MachineOf in Replaces", "web.service", "MachineOf=db.service\nReplaces=db.service",
          .machine_of = "db.service", .replaces = "db.service",
          .errors = W("web.service:5: MachineOf=db.service is also in Replaces= (line 6)") },
        { "what fleet allowed", "t.service",
          "Global=true\nConflicts=x*\nMachineMetadata=role=web\n", .global = true, .conflicts = "x*",
          .metadata = "role=web" },
        { "MachineID with metadata", "t.service", "MachineID=abc\nMachineMetadata=role=web", .machine_id = "abc",
          .metadata = "role=web" },
        { "MachineOf with other Conflicts", "t.service", "MachineOf=db.service\nConflicts=web*",
          .machine_of = "db.service", .conflicts = "web*" },
};

static char *join(char **l) {
        size_t n = 1;
        char *s;

        STRV_FOREACH(x, l)
                n += strlen(*x) + 1;
        s = calloc(1, n);
        if (!s)
                return NULL;
        STRV_FOREACH(x, l) {
                if (x != l)
                        strcat(s, "|");
                strcat(s, *x);
        }
        return s;
}

static bool list_is(const char *what, const char *field, char **got, const char *expected) {
        _cleanup_free_ char *s = join(got);

        if (got && s && streq(s, expected ?: ""))
                return true;
        fprintf(stderr, "%s: %s is \"%s\", expected \"%s\"\n", what, field, strna(s), strempty(expected));
        return false;
}

static bool messages_are(const char *what, const char *kind, char **got, const char *const *expected) {
        size_t n = 0;

        while (expected && expected[n])
                n++;
        if (strv_length(got) != n) {
                fprintf(stderr, "%s: %zu %s, expected %zu:\n", what, strv_length(got), kind, n);
                STRV_FOREACH(m, got)
                        fprintf(stderr, "  %s\n", *m);
                return false;
        }
        for (size_t i = 0; i < n; i++)
                if (!strstr(got[i], expected[i])) {
                        fprintf(stderr, "%s: %s \"%s\" lacks \"%s\"\n", what, kind, got[i], expected[i]);
                        return false;
                }
        return true;
}

static bool case_passes(const Case *c) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_(unit_options_done) UnitOptions o = {};
        _cleanup_free_ char *text = NULL, *error = NULL;

        if (c->text)
                text = strdup(c->text);
        else if (asprintf(&text, PRE "%s\n", c->xfleet) < 0)
                text = NULL;
        if (!text || unit_file_parse(text, strlen(text), "t.service", &uf, &error) < 0) {
                fprintf(stderr, "%s: does not parse: %s\n", c->what, strna(error));
                return false;
        }
        if (unit_options_parse(uf, c->name, NULL, &o) < 0)
                return false;
        if (!streq_ptr(o.machine_id, c->machine_id)) {
                fprintf(stderr, "%s: machine_id is %s, expected %s\n", c->what, strna(o.machine_id), strna(c->machine_id));
                return false;
        }
        if (o.global != c->global) {
                fprintf(stderr, "%s: global is %d\n", c->what, o.global);
                return false;
        }
        return list_is(c->what, "machine_of", o.machine_of, c->machine_of) &&
               list_is(c->what, "machine_metadata", o.machine_metadata, c->metadata) &&
               list_is(c->what, "conflicts", o.conflicts, c->conflicts) &&
               list_is(c->what, "replaces", o.replaces, c->replaces) &&
               messages_are(c->what, "warnings", o.warnings, c->warnings) &&
               messages_are(c->what, "errors", o.errors, c->errors);
}

TEST(cases) {
        unsigned failed = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (!case_passes(&cases[i]))
                        failed++;
        ASSERT_INT(failed, 0);
}

static UnitOptions parse_text(const char *text, const char *name) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        UnitOptions o = {};

        if (unit_file_parse(text, strlen(text), name, &uf, NULL) < 0 || unit_options_parse(uf, name, NULL, &o) < 0)
                fprintf(stderr, "cannot read: %s\n", text);
        return o;
}

TEST(lines_of_options) {
        _cleanup_(unit_options_done) UnitOptions o = parse_text(
                PRE "MachineMetadata=a=b\nMachineOf=x.service\nMachineOf=y.service\nGlobal=no\nGlobal=no\n"
                    "Conflicts=z*\nReplaces=\nReplaces=r.service\n", "t.service");

        ASSERT_INT(o.line[UNIT_OPTION_MACHINE_METADATA], 5);
        ASSERT_INT(o.line[UNIT_OPTION_MACHINE_OF], 6);
        ASSERT_INT(o.line[UNIT_OPTION_GLOBAL], 9);
        ASSERT_INT(o.line[UNIT_OPTION_CONFLICTS], 10);
        ASSERT_INT(o.line[UNIT_OPTION_REPLACES], 12);
        ASSERT_INT(o.line[UNIT_OPTION_MACHINE_ID], 0);
        ASSERT_STR(unit_option_to_string(UNIT_OPTION_MACHINE_METADATA), "MachineMetadata");
        ASSERT_TRUE(!unit_option_to_string(_UNIT_OPTION_MAX));
}

TEST(messages_name_the_file) {
        _cleanup_(unit_options_done) UnitOptions named = parse_text(PRE "Bogus=1\n", "web.service");
        _cleanup_(unit_options_done) UnitOptions anonymous = {};
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;

        ASSERT_STR(named.warnings[0], "web.service:5: unknown [X-Fleet] key Bogus= is ignored");
        ASSERT_INT(unit_file_parse(PRE "Bogus=1\n", strlen(PRE "Bogus=1\n"), NULL, &uf, NULL), 0);
        ASSERT_INT(unit_options_parse(uf, NULL, NULL, &anonymous), 0);
        ASSERT_STR(anonymous.warnings[0], "<input>:5: unknown [X-Fleet] key Bogus= is ignored");
        ASSERT_TRUE(anonymous.errors && !anonymous.errors[0]);
        ASSERT_TRUE(anonymous.machine_of && !anonymous.machine_of[0]);
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);

        if (s) {
                memset(s, c, n);
                s[n] = 0;
        }
        return s;
}

/* go-systemd refused a line of 2048 bytes or more, line end not counted; any line counts. */
TEST(long_lines) {
        _cleanup_free_ char *ok_value = repeat('x', UNIT_OPTIONS_LINE_MAX - 1 - strlen("Description=")),
                            *ok = NULL, *bad = NULL, *cont = NULL;
        UnitOptions o;

        ASSERT_TRUE(ok_value);
        ASSERT_TRUE(asprintf(&ok, "[Unit]\nDescription=%s\r\n", ok_value) > 0);
        o = parse_text(ok, "t.service");
        ASSERT_INT(strv_length(o.errors), 0);
        unit_options_done(&o);

        ASSERT_TRUE(asprintf(&bad, "[Unit]\nDescription=%sx\n", ok_value) > 0);
        o = parse_text(bad, "t.service");
        ASSERT_INT(strv_length(o.errors), 1);
        ASSERT_STR(o.errors[0], "t.service:2: line is 2048 bytes long; fleet refuses lines of 2048 bytes or more");
        unit_options_done(&o);

        /* A continuation line is a line of its own. */
        ASSERT_TRUE(asprintf(&cont, "[Unit]\nDescription=a \\\n# comment\n%s%s\n", ok_value, ok_value) > 0);
        o = parse_text(cont, "t.service");
        ASSERT_INT(strv_length(o.errors), 1);
        ASSERT_CONTAINS(o.errors[0], "t.service:4: line is 4070 bytes long");
        unit_options_done(&o);
}

TEST(capacity) {
        _cleanup_(unit_options_done) UnitOptions o = parse_text(
                "[Service]\nExecStart=/bin/true\nMemoryMax=512M\nCPUQuota=50%\n", "t.service");

        ASSERT_INT(o.memory_bytes, 512ull << 20);
        ASSERT_INT(o.cpu_millis, 500);
}

/* --- the fixtures: tests/data/xfleet/NAME, with lines
 *   ## as UNIT                       read as that unit (default: the file name)
 *   ## expect-FIELD VALUE            machine-id, machine-of, metadata, conflicts, replaces ("a|b"), global
 *   ## expect-warning TEXT           a part of the next warning, in order
 *   ## expect-error TEXT             a part of the next error, in order
 * Every warning and error must be expected. Other "## " lines say what the fixture is about. */

typedef struct Fixture {
        char *as;
        char *fields[6];
        char **warnings, **errors;
} Fixture;

static const char *const fixture_fields[6] = { "machine-id", "machine-of", "metadata", "conflicts", "replaces", "global" };

static void fixture_done(Fixture *f) {
        free(f->as);
        for (size_t i = 0; i < ELEMENTSOF(f->fields); i++)
                free(f->fields[i]);
        strv_free(f->warnings);
        strv_free(f->errors);
}

static int fixture_line(Fixture *f, const char *line) {
        const char *v;

        if ((v = startswith(line, "## as ")))
                return free_and_strdup(&f->as, v);
        if ((v = startswith(line, "## expect-warning ")))
                return strv_extend(&f->warnings, v);
        if ((v = startswith(line, "## expect-error ")))
                return strv_extend(&f->errors, v);
        for (size_t i = 0; i < ELEMENTSOF(fixture_fields); i++) {
                _cleanup_free_ char *prefix = NULL;
                if (asprintf(&prefix, "## expect-%s ", fixture_fields[i]) < 0)
                        return -ENOMEM;
                if ((v = startswith(line, prefix)))
                        return free_and_strdup(&f->fields[i], v);
        }
        return startswith(line, "## expect") ? -EINVAL : 0;  /* other "## " lines say what the file is */
}

static int fixture_read(const char *text, Fixture *ret) {
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = strv_split(text, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines)
                if ((r = fixture_line(ret, *l)) < 0) {
                        fprintf(stderr, "bad fixture line: %s\n", *l);
                        return r;
                }
        return 0;
}

static bool fixture_passes(const char *name, const char *text, const Fixture *f) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_(unit_options_done) UnitOptions o = {};
        _cleanup_free_ char *error = NULL;
        const char *as = f->as ?: name;
        Case c = { .what = name };

        if (unit_file_parse(text, strlen(text), name, &uf, &error) < 0 || unit_options_parse(uf, as, name, &o) < 0) {
                fprintf(stderr, "%s: %s\n", name, strna(error));
                return false;
        }
        if (!streq_ptr(o.machine_id, f->fields[0]) || o.global != streq_ptr(f->fields[5], "true")) {
                fprintf(stderr, "%s: machine ID %s, global %d\n", name, strna(o.machine_id), o.global);
                return false;
        }
        c.machine_of = f->fields[1];
        c.metadata = f->fields[2];
        c.conflicts = f->fields[3];
        c.replaces = f->fields[4];
        return list_is(name, "machine_of", o.machine_of, c.machine_of) &&
               list_is(name, "metadata", o.machine_metadata, c.metadata) &&
               list_is(name, "conflicts", o.conflicts, c.conflicts) &&
               list_is(name, "replaces", o.replaces, c.replaces) &&
               messages_are(name, "warnings", o.warnings, (const char *const *) f->warnings) &&
               messages_are(name, "errors", o.errors, (const char *const *) f->errors);
}

TEST(fixtures) {
        struct dirent **entries = NULL;
        unsigned failed = 0, seen = 0;
        int n = scandir(arg_data_dir, &entries, NULL, alphasort);

        ASSERT_TRUE(n > 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                _cleanup_(fixture_done) Fixture f = {};
                const char *name = entries[i]->d_name;

                if (name[0] != '.' && asprintf(&path, "%s/%s", arg_data_dir, name) > 0 &&
                    unit_file_read_text(path, &text, NULL) >= 0) {
                        seen++;
                        if (fixture_read(text, &f) < 0 || !fixture_passes(name, text, &f))
                                failed++;
                }
                free(entries[i]);
        }
        free(entries);
        ASSERT_TRUE(seen >= 8);
        ASSERT_INT(failed, 0);
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase tests[] = {
                T(cases),
                T(lines_of_options),
                T(messages_name_the_file),
                T(long_lines),
                T(capacity),
                T(fixtures),
        };

        arg_data_dir = argc > 1 ? argv[1] : getenv("FLEETD_TEST_XFLEET");
        if (!arg_data_dir) {
                fprintf(stderr, "usage: %s TESTS_DATA_XFLEET_DIR (or set FLEETD_TEST_XFLEET)\n", argv[0]);
                return EXIT_FAILURE;
        }
        return run_tests(tests, ELEMENTSOF(tests));
}
