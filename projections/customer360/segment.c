/*
 * hub360 - segment rules: a recursive-descent parser into a small tree,
 * and an evaluator over a flat list of view values.
 */
#include "segment.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

typedef enum {
    N_OR, N_AND, N_NOT, N_CMP, N_NUM, N_STR, N_PATH, N_BOOL, N_NULL,
} node_type;

typedef enum { OP_GE, OP_GT, OP_LE, OP_LT, OP_EQ, OP_NE } cmp_op;

typedef struct node {
    node_type type;
    cmp_op op;
    double num;
    char *text; /* string literal or path */
    struct node *a, *b;
} node;

struct hub_segment {
    node *root;
};

typedef struct parser {
    const char *s;
    size_t pos;
    char *err;
    size_t errlen;
    int failed;
} parser;

static void free_node(node *n) {
    if (!n)
        return;
    free_node(n->a);
    free_node(n->b);
    free(n->text);
    free(n);
}

void hub_segment_free(hub_segment_t *s) {
    if (s) {
        free_node(s->root);
        free(s);
    }
}

static void *fail(parser *p, const char *what) {
    if (!p->failed)
        snprintf(p->err, p->errlen, "at column %zu: %s", p->pos + 1, what);
    p->failed = 1;
    return NULL;
}

static void space(parser *p) {
    while (isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

/* Matches a keyword (a whole word) at the cursor. */
static int keyword(parser *p, const char *kw) {
    space(p);
    size_t n = strlen(kw);
    if (strncmp(p->s + p->pos, kw, n) != 0)
        return 0;
    char next = p->s[p->pos + n];
    if (isalnum((unsigned char)next) || next == '_' || next == '.')
        return 0;
    p->pos += n;
    return 1;
}

static node *mk(node_type t) {
    node *n = calloc(1, sizeof *n);
    if (n)
        n->type = t;
    return n;
}

static node *parse_or(parser *p);

static node *parse_operand(parser *p) {
    space(p);
    const char *s = p->s + p->pos;
    if (*s == '(') {
        p->pos++;
        node *n = parse_or(p);
        space(p);
        if (!n || p->s[p->pos] != ')') {
            free_node(n);
            return fail(p, "expected ')'");
        }
        p->pos++;
        return n;
    }
    if (*s == '\'' || *s == '"') {
        const char *end = strchr(s + 1, *s);
        if (!end)
            return fail(p, "unterminated string");
        node *n = mk(N_STR);
        if (!n || !(n->text = strndup(s + 1, (size_t)(end - s - 1)))) {
            free_node(n);
            return fail(p, "out of memory");
        }
        p->pos += (size_t)(end - s) + 1;
        return n;
    }
    if (isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.') {
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            return fail(p, "expected a number");
        node *n = mk(N_NUM);
        if (!n)
            return fail(p, "out of memory");
        n->num = v;
        p->pos += (size_t)(end - s);
        return n;
    }
    int truth = keyword(p, "true");
    if (truth || keyword(p, "false")) {
        node *n = mk(N_BOOL);
        if (!n)
            return fail(p, "out of memory");
        n->num = truth;
        return n;
    }
    if (keyword(p, "null"))
        return mk(N_NULL);
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.')
        n++;
    if (n == 0 || !isalpha((unsigned char)s[0]) || s[n - 1] == '.')
        return fail(p, "expected a path, a number, a 'string', true, false "
                       "or null");
    node *nd = mk(N_PATH);
    if (!nd || !(nd->text = strndup(s, n))) {
        free_node(nd);
        return fail(p, "out of memory");
    }
    p->pos += n;
    return nd;
}

static node *parse_cmp(parser *p) {
    if (keyword(p, "not")) {
        node *inner = parse_cmp(p);
        if (!inner)
            return NULL;
        node *n = mk(N_NOT);
        if (!n) {
            free_node(inner);
            return fail(p, "out of memory");
        }
        n->a = inner;
        return n;
    }
    node *a = parse_operand(p);
    if (!a)
        return NULL;
    space(p);
    static const struct { const char *s; cmp_op op; } ops[] = {
        {">=", OP_GE}, {"<=", OP_LE}, {"==", OP_EQ}, {"!=", OP_NE},
        {">", OP_GT},  {"<", OP_LT},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t len = strlen(ops[i].s);
        if (strncmp(p->s + p->pos, ops[i].s, len) != 0)
            continue;
        p->pos += len;
        node *b = parse_operand(p);
        node *n = b ? mk(N_CMP) : NULL;
        if (!n) {
            free_node(a);
            free_node(b);
            return b ? fail(p, "out of memory") : NULL;
        }
        n->op = ops[i].op;
        n->a = a;
        n->b = b;
        return n;
    }
    return a;
}

static node *parse_chain(parser *p, const char *kw, node_type t,
                         node *(*sub)(parser *)) {
    node *left = sub(p);
    while (left && keyword(p, kw)) {
        node *right = sub(p);
        node *n = right ? mk(t) : NULL;
        if (!n) {
            free_node(left);
            free_node(right);
            return right ? fail(p, "out of memory") : NULL;
        }
        n->a = left;
        n->b = right;
        left = n;
    }
    return left;
}

static node *parse_and(parser *p) {
    return parse_chain(p, "and", N_AND, parse_cmp);
}

static node *parse_or(parser *p) {
    return parse_chain(p, "or", N_OR, parse_and);
}

int hub_segment_compile(const char *expr, hub_segment_t **out, char *err,
                        size_t errlen) {
    *out = NULL;
    parser p = {expr, 0, err, errlen, 0};
    node *root = parse_or(&p);
    space(&p);
    if (root && p.s[p.pos]) {
        free_node(root);
        root = fail(&p, "expected 'and', 'or' or the end of the rule");
    }
    if (!root)
        return HUB_ECONFIG;
    hub_segment_t *s = calloc(1, sizeof *s);
    if (!s) {
        free_node(root);
        return HUB_ENOMEM;
    }
    s->root = root;
    *out = s;
    return 0;
}

/* An evaluated operand. */
typedef struct val {
    enum { V_NULL, V_NUM, V_STR } kind;
    double num;
    const char *str;
} val;

static val operand(const node *n, const hub_seg_env_t *env) {
    val v = {V_NULL, 0, NULL};
    switch (n->type) {
    case N_NUM:
    case N_BOOL:
        v.kind = V_NUM;
        v.num = n->num;
        break;
    case N_STR:
        v.kind = V_STR;
        v.str = n->text;
        break;
    case N_PATH:
        for (size_t i = 0; i < env->n; i++) {
            if (strcmp(env->values[i].path, n->text) != 0)
                continue;
            if (env->values[i].is_num) {
                v.kind = V_NUM;
                v.num = env->values[i].num;
            } else if (env->values[i].str) {
                v.kind = V_STR;
                v.str = env->values[i].str;
            }
            break;
        }
        break;
    default: break;
    }
    return v;
}

static int eval(const node *n, const hub_seg_env_t *env) {
    switch (n->type) {
    case N_OR: return eval(n->a, env) || eval(n->b, env);
    case N_AND: return eval(n->a, env) && eval(n->b, env);
    case N_NOT: return !eval(n->a, env);
    case N_CMP: {
        val a = operand(n->a, env), b = operand(n->b, env);
        if (a.kind == V_NULL || b.kind == V_NULL || a.kind != b.kind)
            return n->op == OP_NE && a.kind != b.kind;
        int c = a.kind == V_NUM ? (a.num > b.num) - (a.num < b.num)
                                : strcmp(a.str, b.str);
        switch (n->op) {
        case OP_GE: return c >= 0;
        case OP_GT: return c > 0;
        case OP_LE: return c <= 0;
        case OP_LT: return c < 0;
        case OP_EQ: return c == 0;
        case OP_NE: return c != 0;
        }
        return 0;
    }
    default: {
        val v = operand(n, env);
        return v.kind == V_NUM ? v.num != 0 : v.kind == V_STR && *v.str;
    }
    }
}

int hub_segment_eval(const hub_segment_t *s, const hub_seg_env_t *env) {
    return eval(s->root, env);
}
