/*
 * Unit tests: hub_http_answer, the server without a network that the
 * fuzz target drives, sees a request target exactly as the server does
 * one that came over a socket (libmicrohttpd's decoding of the path and
 * the query), and routes it the same way.
 */
#include <curl/curl.h>

#include "errors.h"
#include "harness.h"
#include "http.h"

/* Answers with what the handler saw: method, path, every query argument
 * and the X-Probe header. */
static void put_arg(void *ctx, const char *name, const char *value) {
    hub_buf_printf(ctx, " [%s]=[%s]", name, value);
}

static void echo(void *opaque, const hub_http_req_t *req,
                 hub_http_resp_t *resp) {
    (void)opaque;
    resp->content_type = "text/plain";
    const char *probe = hub_http_header(req, "x-probe");
    const char *a = hub_http_query(req, "A");
    hub_buf_printf(&resp->body, "%s %s probe=%s a=%s args:",
                   hub_http_method(req), hub_http_path(req),
                   probe ? probe : "(none)", a ? a : "(none)");
    hub_http_each(req, 1, put_arg, &resp->body);
}

static size_t collect(char *p, size_t size, size_t n, void *b) {
    hub_buf_append(b, p, size * n);
    return size * n;
}

/* "STATUS body" of target over HTTP, through a real socket. */
static void over_socket(int port, const char *target, hub_buf_t *out) {
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, target);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "X-Probe: seen");
    hub_buf_t body = HUB_BUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    hub_buf_printf(out, "%ld %.*s", status, (int)body.len,
                   body.data ? body.data : "");
    hub_buf_free(&body);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* The same without one. */
static void without_socket(hub_http_t *http, const char *target,
                           hub_buf_t *out) {
    static const char *const headers[][2] = {{"X-Probe", "seen"}};
    hub_http_msg_t m = {.method = "GET", .target = target,
                        .headers = headers, .nheaders = 1};
    hub_http_resp_t resp = {0};
    CHECK_INT(hub_http_answer(http, &m, &resp), 0);
    hub_buf_printf(out, "%d %.*s", resp.status, (int)resp.body.len,
                   resp.body.data ? resp.body.data : "");
    hub_buf_free(&resp.body);
}

TEST(answer_as_the_server_does) {
    char err[256];
    hub_http_config_t hc = {.listen = "127.0.0.1:0", .body_limit = 1024,
                            .max_connections = 4};
    hub_http_t *http = NULL;
    REQUIRE(hub_http_new(&hc, &http, err, sizeof err) == 0);
    REQUIRE(hub_http_route(http, "GET", "/echo", echo, NULL) == 0);
    REQUIRE(hub_http_route(http, "POST", "/only-post", echo, NULL) == 0);
    REQUIRE(hub_http_start(http, err, sizeof err) == 0);
    static const char *const targets[] = {
        "/echo",
        "/echo/a%20b/%2F%zz%4",
        "/echo?a=1&b=2",
        "/echo?A=x+y%2Bz&empty=&flag",
        "/echo?a=1&&b",
        "/echo?a=1=2&",
        "/echo?%3D=%26&a=first&a=second",
        "/echo?q=%E4%B8%AD%zz",
        "/only-post",
        "/nowhere?x=1",
    };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        hub_buf_t net = HUB_BUF_INIT, local = HUB_BUF_INIT;
        over_socket(hub_http_port(http), targets[i], &net);
        without_socket(http, targets[i], &local);
        if (!net.data || !local.data || strcmp(net.data, local.data) != 0)
            FAIL_AT("%s:\n  socket:    %s\n  no socket: %s", targets[i],
                    net.data, local.data);
        hub_buf_free(&net);
        hub_buf_free(&local);
    }
    /* and the answers are the ones meant */
    hub_buf_t b = HUB_BUF_INIT;
    without_socket(http, "/echo?A=x+y%2Bz&empty=&flag", &b);
    CHECK_STR(b.data, "200 GET /echo probe=seen a=x y+z args: [A]=[x y+z] "
                      "[empty]=[] [flag]=[]");
    hub_buf_reset(&b);
    without_socket(http, "/only-post", &b);
    CHECK_CONTAINS(b.data, "405 {\"error\":{\"code\":\"method_not_allowed\"");
    hub_buf_reset(&b);
    /* what the client sent is quoted, and the answer stays JSON even
     * when that is not UTF-8 (found by fuzz_http) */
    without_socket(http, "/nowhere/%FF%e4%b8", &b);
    CHECK_STR(b.data, "404 {\"error\":{\"code\":\"not_found\",\"message\":"
                      "\"no route for GET /nowhere/\\ufffd\\ufffd\\ufffd\"}}");
    hub_buf_reset(&b);
    hub_http_msg_t big = {.method = "GET", .target = "/echo",
                          .body = "x", .len = 2000};
    hub_http_resp_t resp = {0};
    char *body = calloc(1, 2000);
    big.body = body;
    CHECK_INT(hub_http_answer(http, &big, &resp), 0);
    CHECK_INT(resp.status, 413);
    free(body);
    hub_buf_free(&resp.body);
    hub_buf_free(&b);
    hub_http_stop(http);
}
