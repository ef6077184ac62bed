#!/usr/bin/env python3
"""A stand-in for a vendor's REST API, for hub360's poller tests.

    fake_vendor.py RECORDS.json [LOG]

RECORDS.json holds {"<collection>": [record, ...], ...}; it is read again
on every request, so a test adds records by replacing the file. Prints
"port N" once listening; appends one JSON line per request to LOG
(with "t", the monotonic time it came in, in seconds).

GET /<collection>?updated_since=AT&limit=N&cursor=TOKEN answers
    {"<collection>": [...], "next": TOKEN|null, "next_url": URL|null}
with the records whose updated_at is at or after AT (compared as
instants), ordered by (updated_at, id) - ids numerically when they are
integers - from offset TOKEN, at most min(limit, page_size) of them.
The shape fits the `mention` preset (GET /mentions, `.mentions`, `.next`,
`cursor`) and the test's own mapping (tests/e2e/data/poll_vendor.jq).

POST /crm/v3/objects/<collection>/search takes HubSpot's CRM search body
(a GTE filter, `limit`, `after`) and answers {"total", "results",
"paging": {"next": {"after"}}}, for the `hubspot` preset. Simplified:
the filter is applied to each record's updatedAt, whatever property it
names. Records carry updated_at, or updatedAt as HubSpot's do. As
HubSpot's, a search pages through its first search_limit (10,000)
results only: an `after` at or past that is answered 400.

POST /oauth/token (form: grant_type=client_credentials, client_id,
client_secret) hands out bearer tokens for 3600 s.

POST /_control with a JSON object sets knobs (kept until changed):
  page_size      the most records a page holds (default 100)
  fail_429 N     answer the next N collection requests 429 with
                 Retry-After: retry_after (default "1")
  fail_500 N     answer the next N collection requests 500
  fail_503 N     answer the next N collection requests 503 with
                 Retry-After: retry_after
  fail_403 N     answer the next N collection requests 403, with a body
                 of over 300 bytes
  stall N        hold the next N collection requests stall_seconds
                 (default 30) or until {"release": true}, then answer
  stall_skip K   let K collection requests through before stalling
  oversize N     answer the next N collection requests with 33 MiB
  cut N          answer the next N collection requests 200 with the
                 page's Content-Length, send half of the body and close
                 the connection
  hang N         send the next N collection answers' headers and half
                 their body, then hold the rest stall_seconds (or until
                 {"release": true}) before closing: the client's timeout
                 strikes mid-body
  malformed N    answer the next N collection requests 200 with a body
                 that is not JSON (the page cut short, Content-Length
                 matching)
  target         a collection name: the failures and stalls above hit
                 only its requests (null: any collection's)
  oauth          {"client_id", "client_secret", "collections": [...]}:
                 those collections want a token from /oauth/token
  revoke         true: every token handed out so far stops working
  ties_descending true: records of one updated_at are listed by id
                 descending (a vendor that sorts on one property)
  search_limit   the results a HubSpot search pages through (10000)
GET /_stats answers counts: requests per collection, what was served
(429, 500, 401, stall, cut, hang, malformed), requests stalling right now, tokens handed out,
and the last credentials header seen per collection.
"""
import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

records_path = sys.argv[1]
log_path = sys.argv[2] if len(sys.argv) > 2 else None
lock = threading.Lock()
released = threading.Event()
knobs = {"page_size": 100, "fail_429": 0, "retry_after": "1", "fail_500": 0, "fail_503": 0, "fail_403": 0,
         "stall": 0, "stall_seconds": 30, "stall_skip": 0, "oauth": None,
         "target": None, "oversize": 0, "cut": 0, "hang": 0, "malformed": 0,
         "ties_descending": False, "search_limit": 10000}
stats = {"requests": {}, "served": {"400": 0, "429": 0, "500": 0, "401": 0, "stall": 0,
                                    "cut": 0, "hang": 0, "malformed": 0},
         "stalling": 0, "tokens": 0, "auth": {}}
tokens = set()


def instant(text):
    return datetime.fromisoformat(text.replace("z", "Z"))


def updated(rec):
    return instant(rec.get("updated_at") or rec["updatedAt"])


def order(rec):
    rid = str(rec["id"])
    key = (0, int(rid), "") if rid.lstrip("-").isdigit() else (1, 0, rid)
    if knobs["ties_descending"]:  # sorted on updated_at only, as HubSpot's
        key = (-key[0], -key[1], "".join(chr(0x10FFFF - ord(c)) for c in key[2]))
    return (updated(rec), key)


class Vendor(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def reply_oversize(self, name):
        """{name: [], "pad": "xxx..."} of 33 MiB, streamed: its headers go
        out at once (building the whole body first could take longer
        than the client's timeout on a loaded machine)."""
        head = ('{"%s": [], "pad": "' % name).encode()
        size = 33 << 20
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(head) + size + 2))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            self.wfile.write(head)
            for _ in range(33):
                self.wfile.write(chunk)
            self.wfile.write(b'"}')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its limit

    def reply_broken(self, how, body):
        """A 200 whose body breaks: cut (the connection closes halfway),
        hang (half, then silence until released or stall_seconds) or
        malformed (a complete answer that is not JSON)."""
        data = json.dumps(body).encode()
        half = data[:len(data) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(half) if how == "malformed" else len(data)))
        self.end_headers()
        try:
            self.wfile.write(half)
            self.wfile.flush()
            if how == "hang":
                released.wait(knobs["stall_seconds"])
        except (BrokenPipeError, ConnectionResetError):
            pass
        if how != "malformed":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    def record(self, entry):
        entry["t"] = round(time.monotonic(), 3)
        if log_path:
            with lock, open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def do_POST(self):
        url = urlsplit(self.path)
        text = self.body()
        parts = url.path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["crm", "v3", "objects"] and parts[4] == "search":
            if self.headers.get("Content-Type") != "application/json":
                return self.reply(415, {"message": "send application/json"})
            return self.serve(parts[3], url, self.hubspot_query(json.loads(text)))
        self.record({"method": "POST", "path": url.path})
        if url.path == "/_control":
            change = json.loads(text)
            with lock:
                if change.pop("revoke", False):
                    tokens.clear()
                if change.pop("release", False):
                    released.set()
                if change.get("stall"):
                    released.clear()
                knobs.update(change)
            return self.reply(200, knobs)
        if url.path == "/oauth/token":
            form = {k: v[0] for k, v in parse_qs(text).items()}
            oauth = knobs["oauth"] or {}
            if (form.get("grant_type") != "client_credentials"
                    or form.get("client_id") != oauth.get("client_id")
                    or form.get("client_secret") != oauth.get("client_secret")):
                return self.reply(401, {"error": "invalid_client"})
            with lock:
                stats["tokens"] += 1
                token = "tok-%d" % stats["tokens"]
                tokens.add(token)
            return self.reply(200, {"access_token": token, "token_type": "bearer",
                                    "expires_in": 3600})
        self.reply(404, {"error": "not found"})

    @staticmethod
    def hubspot_query(body):
        """HubSpot's search body as the GET parameters serve() reads."""
        query = {"limit": str(body.get("limit", 10)), "hubspot": "1"}
        for group in body.get("filterGroups", []):
            for f in group.get("filters", []):
                if f.get("operator") == "GTE":
                    query["updated_since"] = f["value"]
        if body.get("after") is not None:
            query["cursor"] = str(body["after"])
        return query

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        name = url.path.strip("/")
        if name == "_stats":
            with lock:
                return self.reply(200, stats)
        self.serve(name, url, query)

    def serve(self, name, url, query):
        with open(records_path) as f:
            collections = json.load(f)
        if name not in collections:
            return self.reply(404, {"error": "no collection %s" % name})
        self.record({"method": self.command, "path": url.path, "query": query})
        with lock:
            stats["requests"][name] = stats["requests"].get(name, 0) + 1
            seen = self.headers.get("Authorization") or self.headers.get("X-Api-Key")
            stats["auth"][name] = seen
            oauth = knobs["oauth"]
            if oauth and name in oauth.get("collections", []):
                given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if given not in tokens:
                    stats["served"]["401"] += 1
                    return self.reply(401, {"error": "invalid_token"})
            hit = knobs["target"] in (None, name)
            if hit and knobs["fail_429"] > 0:
                knobs["fail_429"] -= 1
                stats["served"]["429"] += 1
                return self.reply(429, {"error": "slow down"},
                                  [("Retry-After", knobs["retry_after"])])
            if hit and knobs["fail_403"] > 0:
                knobs["fail_403"] -= 1
                stats["served"]["403"] = stats["served"].get("403", 0) + 1
                return self.reply(403, {"error": "forbidden", "detail": "x" * 300})
            if hit and knobs["fail_503"] > 0:
                knobs["fail_503"] -= 1
                stats["served"]["503"] = stats["served"].get("503", 0) + 1
                return self.reply(503, {"error": "maintenance"},
                                  [("Retry-After", knobs["retry_after"])])
            if hit and knobs["fail_500"] > 0:
                knobs["fail_500"] -= 1
                stats["served"]["500"] += 1
                return self.reply(500, {"error": "internal"})
            big = hit and knobs["oversize"] > 0
            if big:
                knobs["oversize"] -= 1
            broken = None
            for fault in ("cut", "hang", "malformed"):
                if hit and not broken and knobs[fault] > 0:
                    knobs[fault] -= 1
                    stats["served"][fault] += 1
                    broken = fault
            stall = False
            if hit and knobs["stall"] > 0:
                if knobs["stall_skip"] > 0:
                    knobs["stall_skip"] -= 1
                else:
                    knobs["stall"] -= 1
                    stats["served"]["stall"] += 1
                    stats["stalling"] += 1
                    stall = True
        if big:
            return self.reply_oversize(name)
        if stall:
            released.wait(knobs["stall_seconds"])
            with lock:
                stats["stalling"] -= 1
        rows = sorted(collections[name], key=order)
        if "updated_since" in query:
            since = instant(query["updated_since"])
            rows = [r for r in rows if updated(r) >= since]
        offset = int(query.get("cursor") or 0)
        if "hubspot" in query and offset >= knobs["search_limit"]:
            with lock:
                stats["served"]["400"] += 1
            return self.reply(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "paging past %d results is not allowed"
                                               % knobs["search_limit"]})
        size = min(int(query.get("limit") or 100), knobs["page_size"])
        page = rows[offset:offset + size]
        more = offset + size < len(rows)
        token = str(offset + size) if more else None
        link = None
        if more:
            host = self.headers.get("Host")
            link = "http://%s%s?%s" % (host, url.path,
                                        urlencode({**query, "cursor": token}))
        if "hubspot" in query:
            answer = {"total": len(rows), "results": page}
            if more:
                answer["paging"] = {"next": {"after": token}}
        else:
            answer = {name: page, "next": token, "next_url": link}
        if broken:
            return self.reply_broken(broken, answer)
        try:
            self.reply(200, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout) while we stalled


server = ThreadingHTTPServer(("127.0.0.1", 0), Vendor)
server.daemon_threads = True
print("port", server.server_address[1], flush=True)
server.serve_forever()
