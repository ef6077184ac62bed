/*
 * examples/reader.c - libhub360 in a program of its own: looks customers
 * up in a projector's store and prints, for each, the view exactly as
 * `GET /v1/customers/{ref}` answers it (one line), then its orders and
 * revenue per currency.
 *
 *     reader DATA_DIR/customer360 REF...
 *
 * REF is a customer id, an alias or an identity (email:ann@example.com).
 * Exits 0 when every REF was found, 1 when one was not, 2 on an error.
 * Build (installed library): cc reader.c $(pkg-config --cflags --libs hub360)
 */
#include <hub360.h>
#include <inttypes.h>
#include <stdio.h>

static int show(hub360_reader_t *r, const char *ref) {
    hub360_view_t *v;
    int rc = hub360_get(r, ref, &v);
    if (rc == HUB360_ENOENT) {
        fprintf(stderr, "reader: no customer %s\n", ref);
        return 1;
    }
    const char *json;
    size_t len;
    if (rc == 0)
        rc = hub360_view_json(v, &json, &len);
    if (rc < 0) {
        fprintf(stderr, "reader: %s: %s\n", ref, hub360_strerror(rc));
        hub360_view_free(v);
        return 2;
    }
    fwrite(json, 1, len, stdout);
    printf("\n# %s: %" PRId32 " orders", hub360_view_id(v),
           hub360_view_orders(v));
    const char *currency;
    int64_t amount;
    for (size_t i = 0; hub360_view_revenue(v, i, &currency, &amount) == 0; i++)
        printf("%s %s %" PRId64, i ? "," : ", revenue", currency, amount);
    printf("\n");
    hub360_view_free(v); /* json and currency go with it */
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: reader DATA_DIR/customer360 REF...\n");
        return 2;
    }
    hub360_reader_t *r;
    char err[512];
    int rc = hub360_open(argv[1], &r, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "reader: %s\n", err);
        return 2;
    }
    int status = 0;
    for (int i = 2; i < argc; i++) {
        int s = show(r, argv[i]);
        status = s > status ? s : status;
    }
    hub360_close(r);
    return status;
}
