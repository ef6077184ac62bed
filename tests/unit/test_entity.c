/*
 * Unit tests: an entity's registers (last writer wins by stamp, the
 * earliest for min registers, unset until set) and its packed form (the
 * same bytes whatever order the registers were set in, and unpacked to
 * the same values), in an arena and on the heap.
 */
#include "arena.h"
#include "buf.h"
#include "entity.h"
#include "errors.h"
#include "harness.h"

static hub_stamp_t stamp(int64_t at, uint8_t id) {
    hub_stamp_t st = {at, {0}, 0};
    st.id[15] = id;
    return st;
}

TEST(registers_read_unset_until_set) {
    hub_ent_t *e = hub_ent_new(NULL, "crm/lead/1", 10);
    REQUIRE(e);
    for (int s = 0; s < HUB_NREGS; s++) {
        const hub_reg_t *r = hub_ent_reg(e, s);
        CHECK_INT(r->set, 0);
        CHECK_INT(r->i, 0);
        CHECK(r->s == NULL);
    }
    hub_stamp_t st = stamp(1000, 1);
    CHECK_INT(hub_ent_set_str(e, R_NAME, &st, "Ann Li", 6), 1);
    CHECK_INT(hub_ent_set_int(e, R_AMOUNT, &st, 4200), 1);
    CHECK_STR(hub_ent_reg(e, R_NAME)->s, "Ann Li");
    CHECK_INT(hub_ent_reg(e, R_NAME)->i, 6);
    CHECK_INT(hub_ent_reg(e, R_NAME)->is_str, 1);
    CHECK_INT(hub_ent_reg(e, R_AMOUNT)->i, 4200);
    CHECK_INT(hub_ent_reg(e, R_AMOUNT)->is_str, 0);
    CHECK_INT(hub_ent_reg(e, R_COMPANY)->set, 0);
    CHECK_INT(e->nreg, 2);
    hub_ent_free(e);
}

TEST(the_latest_stamp_wins_then_the_greater_event_id) {
    hub_ent_t *e = hub_ent_new(NULL, "erp/order/9", 11);
    REQUIRE(e);
    hub_stamp_t a = stamp(100, 1), older = stamp(99, 9), b = stamp(100, 2);
    CHECK_INT(hub_ent_set_int(e, R_AMOUNT, &a, 5), 1);
    CHECK_INT(hub_ent_set_int(e, R_AMOUNT, &older, 7), 0);
    CHECK_INT(hub_ent_reg(e, R_AMOUNT)->i, 5);
    CHECK_INT(hub_ent_set_int(e, R_AMOUNT, &b, 9), 1);
    CHECK_INT(hub_ent_reg(e, R_AMOUNT)->i, 9);
    /* a string replaced by a number and back: the slot is reused */
    hub_stamp_t c = stamp(200, 1), d = stamp(300, 1);
    CHECK_INT(hub_ent_set_str(e, R_STATUS, &c, "open", 4), 1);
    CHECK_INT(hub_ent_set_int(e, R_STATUS, &d, 3), 1);
    CHECK_INT(hub_ent_reg(e, R_STATUS)->is_str, 0);
    CHECK(hub_ent_reg(e, R_STATUS)->s == NULL);
    /* min registers keep the smallest value, whatever came last */
    hub_stamp_t m1 = stamp(50, 1), m2 = stamp(60, 1), m3 = stamp(40, 1);
    CHECK_INT(hub_ent_min_int(e, R_OPENED_AT, &m1, 50), 1);
    CHECK_INT(hub_ent_min_int(e, R_OPENED_AT, &m2, 60), 0);
    CHECK_INT(hub_ent_min_int(e, R_OPENED_AT, &m3, 40), 1);
    CHECK_INT(hub_ent_reg(e, R_OPENED_AT)->i, 40);
    CHECK_INT(e->nreg, 3);
    hub_ent_free(e);
}

/* Two changes of one row in one transaction share occurred_at: the
 * source's sequence orders them, whatever their event ids say; the event
 * id decides only when the sequences tie too (none given: 0). */
TEST(the_sequence_breaks_a_tie_of_occurred_at_before_the_event_id) {
    hub_ent_t *e = hub_ent_new(NULL, "erp/order/9", 11);
    REQUIRE(e);
    hub_stamp_t first = stamp(100, 9), second = stamp(100, 1);
    first.seq = 4000;
    second.seq = 4100;
    CHECK_INT(hub_ent_set_str(e, R_STATUS, &second, "shipped", 7), 1);
    CHECK_INT(hub_ent_set_str(e, R_STATUS, &first, "placed", 6), 0);
    CHECK_STR(hub_ent_reg(e, R_STATUS)->s, "shipped");
    hub_stamp_t later = stamp(101, 0); /* occurred_at still comes first */
    CHECK_INT(hub_stamp_cmp(&later, &second) > 0, 1);
    hub_stamp_t none = stamp(100, 200);
    CHECK_INT(hub_stamp_cmp(&none, &first) < 0, 1);
    hub_ent_free(e);
}

/* hub_stamp_put's 32 bytes sort as hub_stamp_cmp orders the stamps, and
 * read back the same, negative times and sequences included. */
TEST(a_stamps_bytes_sort_as_the_stamps) {
    uint64_t x = 88172645463325252ull;
    hub_stamp_t v[200];
    for (int i = 0; i < 200; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = stamp((int64_t)(x % 5) - 2, (uint8_t)(x >> 8));
        v[i].seq = (int64_t)((x >> 20) % 5) - 2;
        if (i % 50 == 0)
            v[i].seq = i ? INT64_MAX : INT64_MIN;
    }
    for (int i = 0; i < 200; i++) {
        uint8_t a[HUB_STAMP_LEN], b[HUB_STAMP_LEN];
        hub_stamp_t back;
        hub_stamp_put(a, &v[i]);
        hub_stamp_get(a, &back);
        CHECK_INT(hub_stamp_cmp(&back, &v[i]), 0);
        CHECK_INT(back.seq, v[i].seq);
        for (int j = 0; j < 200; j++) {
            hub_stamp_put(b, &v[j]);
            int m = memcmp(a, b, HUB_STAMP_LEN), c = hub_stamp_cmp(&v[i], &v[j]);
            CHECK_INT((m > 0) - (m < 0), (c > 0) - (c < 0));
        }
    }
}

/* Sets every register of e, in the order of step (coprime with
 * HUB_NREGS), strings in the even slots. */
static void set_all(hub_ent_t *e, int step) {
    for (int k = 0; k < HUB_NREGS; k++) {
        int s = (k * step) % HUB_NREGS;
        hub_stamp_t st = stamp(1000 + s, (uint8_t)s);
        st.seq = (int64_t)s * 1000003 - 7; /* -7 for slot 0: zig-zag */
        if (s % 2 == 0) {
            char v[32];
            int n = snprintf(v, sizeof v, "value %d", s);
            CHECK_INT(hub_ent_set_str(e, s, &st, v, (size_t)n), 1);
        } else {
            CHECK_INT(hub_ent_set_int(e, s, &st, -1000 * s), 1);
        }
    }
}

static void check_all(const hub_ent_t *e) {
    for (int s = 0; s < HUB_NREGS; s++) {
        const hub_reg_t *r = hub_ent_reg(e, s);
        CHECK_INT(r->set, 1);
        CHECK_INT(r->st.at, 1000 + s);
        CHECK_INT(r->st.id[15], s);
        CHECK_INT(r->st.seq, (int64_t)s * 1000003 - 7);
        if (s % 2 == 0) {
            char v[32];
            snprintf(v, sizeof v, "value %d", s);
            CHECK_STR(r->s, v);
        } else {
            CHECK_INT(r->i, -1000 * s);
        }
    }
}

TEST(the_packed_form_does_not_depend_on_the_order_registers_were_set) {
    hub_arena_t arena = HUB_ARENA_INIT;
    hub_buf_t p1 = HUB_BUF_INIT, p2 = HUB_BUF_INIT, p3 = HUB_BUF_INIT;
    hub_ent_t *heap = hub_ent_new(NULL, "scrm/mention/7", 14),
              *in_arena = hub_ent_new(&arena, "scrm/mention/7", 14);
    REQUIRE(heap && in_arena);
    set_all(heap, 1);
    set_all(in_arena, 7); /* another order, through every growth */
    check_all(heap);
    check_all(in_arena);
    REQUIRE(hub_ent_pack(heap, &p1) == 0);
    REQUIRE(hub_ent_pack(in_arena, &p2) == 0);
    CHECK_INT(p1.len, p2.len);
    CHECK(p1.len == p2.len && memcmp(p1.data, p2.data, p1.len) == 0);
    /* unpacked, it holds the same and packs to the same bytes */
    hub_ent_t *back = NULL;
    REQUIRE(hub_ent_unpack(&arena, "scrm/mention/7", 14, p1.data, p1.len,
                           &back) == 0);
    check_all(back);
    REQUIRE(hub_ent_pack(back, &p3) == 0);
    CHECK(p3.len == p1.len && memcmp(p3.data, p1.data, p1.len) == 0);
    /* a truncated record is refused, not read past its end */
    hub_ent_t *cut = NULL;
    CHECK_INT(hub_ent_unpack(NULL, "scrm/mention/7", 14, p1.data,
                             p1.len / 2, &cut),
              HUB_EDECODE);
    CHECK(cut == NULL);
    hub_ent_free(heap);
    hub_arena_free(&arena);
    hub_buf_free(&p1);
    hub_buf_free(&p2);
    hub_buf_free(&p3);
}
