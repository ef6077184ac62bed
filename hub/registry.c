/*
 * hub360 - Schema Registry client.
 */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errors.h"

#define MAX_RESPONSE (8 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
    hub_buf_t *b = opaque;
    size_t len = size * n;
    if (b->len + len > MAX_RESPONSE || hub_buf_append(b, p, len))
        return 0; /* makes curl fail the transfer */
    return len;
}

/* Performs one request; *status is the HTTP status. Body in resp. */
static int request(const hub_registry_config_t *cfg, const char *path,
                   const char *post, long *status, hub_buf_t *resp,
                   char *err, size_t errlen) {
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h)
        return HUB_ENOMEM;
    char url[2048];
    size_t ulen = strlen(cfg->url);
    while (ulen && cfg->url[ulen - 1] == '/')
        ulen--;
    snprintf(url, sizeof url, "%.*s%s", (int)ulen, cfg->url, path);
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(
        hdrs, "Accept: application/vnd.schemaregistry.v1+json, "
              "application/json");
    if (post)
        hdrs = curl_slist_append(
            hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (post)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    if (*cfg->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password);
    }
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = hub_fail(err, errlen, HUB_EHTTP, "schema registry %s: %s", url,
                      curl_easy_strerror(cc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

/* The registry's error message, when its body has one. */
static const char *registry_message(const json_t *body) {
    const char *m = json_string_value(json_object_get(body, "message"));
    return m ? m : "no message";
}

int hub_registry_register(const hub_registry_config_t *cfg,
                          const char *subject, const char *schema_text,
                          int32_t *id, char *err, size_t errlen) {
    char path[1024];
    char *esc = curl_easy_escape(NULL, subject, 0);
    if (!esc)
        return HUB_ENOMEM;
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    curl_free(esc);
    json_t *req = json_pack("{s:s}", "schema", schema_text);
    char *post = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!post)
        return HUB_ENOMEM;
    hub_buf_t resp = HUB_BUF_INIT;
    long status = 0;
    int rc = request(cfg, path, post, &status, &resp, err, errlen);
    free(post);
    if (rc) {
        hub_buf_free(&resp);
        return rc;
    }
    json_t *body = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    if (status == 200 && json_is_integer(json_object_get(body, "id"))) {
        *id = (int32_t)json_integer_value(json_object_get(body, "id"));
    } else if (status >= 500 || status == 0) {
        rc = hub_fail(err, errlen, HUB_EHTTP,
                      "schema registry: registering %s: HTTP %ld: %s",
                      subject, status, registry_message(body));
    } else {
        rc = hub_fail(err, errlen, HUB_ESCHEMA,
                      "schema registry rejected the schema for %s: HTTP "
                      "%ld: %s",
                      subject, status, registry_message(body));
    }
    json_decref(body);
    hub_buf_free(&resp);
    return rc;
}

int hub_registry_fetch(const hub_registry_config_t *cfg, int32_t id,
                       char **text, char *err, size_t errlen) {
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d", (int)id);
    hub_buf_t resp = HUB_BUF_INIT;
    long status = 0;
    int rc = request(cfg, path, NULL, &status, &resp, err, errlen);
    if (rc) {
        hub_buf_free(&resp);
        return rc;
    }
    json_t *body = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    const char *schema = json_string_value(json_object_get(body, "schema"));
    if (status == 200 && schema) {
        *text = strdup(schema);
        rc = *text ? 0 : HUB_ENOMEM;
    } else if (status == 404) {
        rc = hub_fail(err, errlen, HUB_ENOENT,
                      "schema registry does not know schema id %d", (int)id);
    } else {
        rc = hub_fail(err, errlen, HUB_EHTTP,
                      "schema registry: fetching id %d: HTTP %ld: %s",
                      (int)id, status, registry_message(body));
    }
    json_decref(body);
    hub_buf_free(&resp);
    return rc;
}
