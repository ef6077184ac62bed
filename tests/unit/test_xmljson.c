/*
 * Unit tests: XML bodies as JSON - WeChat's documented pushes, repeats,
 * attributes, text, and the documents that must be refused (not
 * well-formed, DTDs and entities, nesting too deep) without a word on
 * stderr.
 */
#include <jansson.h>
#include <unistd.h>

#include "errors.h"
#include "harness.h"
#include "xmljson.h"

#define VENDORS "tests/fixtures/vendors/"

/* xml[0..len) as compact JSON with sorted keys, or "error CODE: err". */
static const char *convn(const char *xml, size_t len) {
    static char out[4096];
    char err[256] = "";
    json_t *j = NULL;
    int rc = hub_xml_to_json(xml, len, &j, err, sizeof err);
    if (rc < 0) {
        snprintf(out, sizeof out, "error %d: %s", rc, err);
        if (j)
            snprintf(out, sizeof out, "error %d with output", rc);
        return out;
    }
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    snprintf(out, sizeof out, "%s", s ? s : "(dump failed)");
    free(s);
    json_decref(j);
    return out;
}

static const char *conv(const char *xml) {
    return convn(xml, strlen(xml));
}

static const char *conv_file(const char *name) {
    char path[256];
    size_t len = 0;
    snprintf(path, sizeof path, VENDORS "%s", name);
    char *xml = hub_test_read(path, &len);
    if (!xml)
        return "(cannot read the fixture)";
    const char *out = convn(xml, len);
    free(xml);
    return out;
}

TEST(wechat_documented_pushes) {
    CHECK_STR(conv_file("wechat_oa_text_message_docs.xml"),
              "{\"Content\":\"this is a test\",\"CreateTime\":\"1348831860\","
              "\"FromUserName\":\"fromUser\",\"MsgId\":\"1234567890123456\","
              "\"MsgType\":\"text\",\"ToUserName\":\"toUser\"}");
    CHECK_STR(conv_file("wechat_oa_subscribe_event_docs.xml"),
              "{\"CreateTime\":\"123456789\",\"Event\":\"subscribe\","
              "\"FromUserName\":\"FromUser\",\"MsgType\":\"event\","
              "\"ToUserName\":\"toUser\"}");
}

TEST(repeated_elements_become_arrays_in_document_order) {
    CHECK_STR(conv("<xml><Item>1</Item><Item>2</Item><Other>x</Other>"
                   "<Item>3</Item></xml>"),
              "{\"Item\":[\"1\",\"2\",\"3\"],\"Other\":\"x\"}");
    /* WeChat's news reply shape: repeated objects */
    CHECK_STR(conv("<xml><ArticleCount>2</ArticleCount><Articles>"
                   "<item><Title><![CDATA[a]]></Title></item>"
                   "<item><Title><![CDATA[b]]></Title><Url>u</Url></item>"
                   "</Articles></xml>"),
              "{\"ArticleCount\":\"2\",\"Articles\":{\"item\":["
              "{\"Title\":\"a\"},{\"Title\":\"b\",\"Url\":\"u\"}]}}");
}

TEST(attributes_text_and_empty_elements) {
    CHECK_STR(conv("<xml id=\"7\"><a lang=\"zh\">hi</a><b x=\"1\"/><c/>"
                   "<d></d></xml>"),
              "{\"@id\":\"7\",\"a\":{\"#text\":\"hi\",\"@lang\":\"zh\"},"
              "\"b\":{\"@x\":\"1\"},\"c\":\"\",\"d\":\"\"}");
    /* text is kept verbatim, CDATA or not; numbers stay strings */
    CHECK_STR(conv("<xml><a><![CDATA[ two  spaces ]]></a><b> 0012 </b>"
                   "<c>x<![CDATA[<y>]]>z</c></xml>"),
              "{\"a\":\" two  spaces \",\"b\":\" 0012 \",\"c\":\"x<y>z\"}");
    /* the predefined entities and character references, and mixed text */
    CHECK_STR(conv("<xml><a>&lt;b&gt; &amp; &#20013;&#x6587;</a>"
                   "<p>Hello <b>you</b>!</p></xml>"),
              "{\"a\":\"<b> & \xe4\xb8\xad\xe6\x96\x87\","
              "\"p\":{\"#text\":\"Hello !\",\"b\":\"you\"}}");
    /* comments and processing instructions are not data */
    CHECK_STR(conv("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<xml><!-- note --><a>1<?pi x?></a></xml>"),
              "{\"a\":\"1\"}");
    /* names keep their prefix; namespace declarations are not data */
    CHECK_STR(conv("<xml xmlns:w=\"urn:w\"><w:a w:k=\"v\">1</w:a></xml>"),
              "{\"w:a\":{\"#text\":\"1\",\"@w:k\":\"v\"}}");
    CHECK_STR(conv("<xml>just text</xml>"), "{\"#text\":\"just text\"}");
    CHECK_STR(conv("<xml/>"), "{}");
}

TEST(malformed_xml_names_the_line) {
    CHECK_STR(conv("<xml>\n  <a>1</a>\n  <b>2</a>\n</xml>"),
              "error -7: line 3: Opening and ending tag mismatch: b line 3 "
              "and a");
    CHECK_STR(conv("<xml>\n<a>1</a>\n"),
              "error -7: line 3: Premature end of data in tag xml line 1");
    CHECK_STR(conv("<xml><a>&nbsp;</a></xml>"),
              "error -7: line 1: Entity 'nbsp' not defined");
    CHECK_STR(conv("<xml></xml><xml></xml>"),
              "error -7: line 1: Extra content at the end of the document");
    CHECK_STR(convn("", 0), "error -7: line 1: Document is empty");
    CHECK_STR(conv("{\"json\": true}"),
              "error -7: line 1: Start tag expected, '<' not found");
}

TEST(dtds_and_entities_are_refused_unexpanded_and_unfetched) {
    const char *laughs =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n"
        "<lolz><a>&lol9;</a></lolz>\n";
    CHECK_STR(conv(laughs), "error -7: line 2: DOCTYPE lolz refused (no DTDs "
                            "or entities)");
    /* an external entity: a file, and a URL nothing listens on */
    CHECK_STR(conv("<!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">"
                   "]><xml><a>&xxe;</a></xml>"),
              "error -7: line 1: DOCTYPE xml refused (no DTDs or entities)");
    CHECK_STR(conv("<!DOCTYPE xml SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
                   "<xml><a>&xxe;</a></xml>"),
              "error -7: line 1: DOCTYPE xml refused (no DTDs or entities)");
}

/* Nesting: n elements <d> inside the document element. */
static const char *nested(int n) {
    static char xml[1024];
    size_t o = 0;
    o += (size_t)snprintf(xml + o, sizeof xml - o, "<xml>");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(xml + o, sizeof xml - o, "<d>");
    o += (size_t)snprintf(xml + o, sizeof xml - o, "x");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(xml + o, sizeof xml - o, "</d>");
    snprintf(xml + o, sizeof xml - o, "</xml>");
    return conv(xml);
}

TEST(nesting_deeper_than_32_levels_is_too_big) {
    const char *ok = nested(31); /* 32 levels with the document element */
    CHECK(ok[0] == '{');
    CHECK_CONTAINS(ok, "{\"d\":\"x\"}");
    CHECK_STR(nested(32),
              "error -15: line 1: <d> is nested deeper than 32 levels");
}

TEST(nothing_is_printed_on_stderr) {
    /* libxml2's default handler prints; ours must not let it */
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    REQUIRE(saved >= 0 && tmp);
    dup2(fileno(tmp), 2);
    conv("<xml>\n<a>1</b>\n</xml>");
    conv("<!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>");
    conv("<xml><a>&undefined;</a></xml>");
    conv("<?xml version=\"1.0\" encoding=\"bogus\"?><xml/>");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_INT(ftell(tmp), 0);
    fclose(tmp);
}
