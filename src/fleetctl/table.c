/* SPDX-License-Identifier: Apache-2.0 */
#include "table.h"

struct Table {
        size_t n_columns;
        char **cells;        /* header cells first, then row after row */
        size_t n_cells;
        bool show_header;
};

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

/* Copies s with control characters turned into spaces; NULL becomes "-". */
static char *cell_dup(const char *s) {
        char *d = strdup(s ?: "-");

        if (!d)
                return NULL;
        for (unsigned char *p = (unsigned char *) d; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        return d;
}

static int table_append(Table *t, const char *const *cells, size_t n) {
        char **c = realloc(t->cells, (t->n_cells + n) * sizeof(char *));

        if (!c)
                return -ENOMEM;
        t->cells = c;
        for (size_t i = 0; i < n; i++) {
                char *d = cell_dup(cells[i]);
                if (!d) {
                        /* Drop the partial row: the table stays rectangular. */
                        while (i > 0)
                                free(t->cells[t->n_cells + --i]);
                        return -ENOMEM;
                }
                t->cells[t->n_cells + i] = d;
        }
        t->n_cells += n;
        return 0;
}

int table_new_internal(Table **ret, const char *const *headers) {
        _cleanup_(table_freep) Table *t = NULL;
        size_t n = 0;
        int r;

        while (headers[n])
                n++;
        if (n == 0)
                return -EINVAL;
        t = calloc(1, sizeof(Table));
        if (!t)
                return -ENOMEM;
        t->n_columns = n;
        t->show_header = true;
        r = table_append(t, headers, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int table_add_row_internal(Table *t, const char *const *cells, size_t n) {
        if (n != t->n_columns)
                return -EINVAL;
        return table_append(t, cells, n);
}

void table_set_header(Table *t, bool show) {
        t->show_header = show;
}

size_t table_get_rows(const Table *t) {
        return t->n_cells / t->n_columns - 1;
}

/* Columns as a terminal shows them: UTF-8 continuation bytes take no room. Wide (CJK)
 * characters would need wcwidth() and a locale; cluster names rarely have them. */
static size_t display_width(const char *s) {
        size_t w = 0;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xC0) != 0x80)
                        w++;
        return w;
}

int table_print(const Table *t, FILE *f) {
        _cleanup_free_ size_t *widths = calloc(t->n_columns, sizeof(size_t));
        size_t first = t->show_header ? 0 : t->n_columns;

        if (!widths)
                return -ENOMEM;
        for (size_t i = first; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], display_width(t->cells[i]));

        for (size_t i = first; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                fputs(t->cells[i], f);
                if (col == t->n_columns - 1)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (widths[col] - display_width(t->cells[i]) + 2), "");
        }
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
