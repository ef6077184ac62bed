/*
 * hub360 - XML bodies (WeChat's pushes) as JSON, so mappings see one
 * shape whatever the vendor sends.
 *
 * The document element becomes an object; each child element a member
 * named after it: its text (CDATA or not, as a string, never guessed into
 * a number), or an object when it has element children; an element that
 * repeats becomes an array of its values in document order. Attributes
 * are members named "@name"; an element with attributes is an object,
 * its text (when not only whitespace) in "#text", as is the text of an
 * element that mixes text and elements. An empty element is "". Names
 * keep their namespace prefix ("p:name"); comments and processing
 * instructions are dropped. Parsed by libxml2 with the network, DTD
 * loading and entity expansion off (no XXE); a document with a DOCTYPE
 * is refused outright, before its internal subset is read.
 */
#ifndef HUB_XMLJSON_H
#define HUB_XMLJSON_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parses xml[0..len) into *out (a new reference, an object; NULL on
 * error). HUB_EDECODE with "line L: reason" in err for text that is not
 * well-formed XML or that has a DOCTYPE; HUB_ETOOBIG for nesting deeper
 * than 32 levels (the document element is level 1) or len over INT_MAX;
 * HUB_ENOMEM. Nothing is printed. Safe from any thread.
 */
int hub_xml_to_json(const char *xml, size_t len, json_t **out, char *err,
                    size_t errlen);

#endif
