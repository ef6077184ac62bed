#!/usr/bin/env python3
"""The mixed load of hub360's fault tests: all three kinds of system at
once, from a deterministic input set.

    load.py plan --seed N --people N DIR
        Writes the input set into DIR:
          webhooks.jsonl   one request a line: source, body, Shopify topic
          vendor.json      the records the fake vendor serves in the end
                           ({"mentions": [...], "contacts": [...]}), in
                           the order they are released
          customers-K.csv  exports for `hub360 import --source erpfile`
          mentions-K.ndjson  exports for `hub360 import --source listen`
          map.sh           `hub360 map` calls that print the events every
                           input becomes (the expected set, for the
                           uninterrupted reference run)
    load.py send --dir DIR --url URL --records FILE --secrets JSON
                 --duration S --import CMD... [--log FILE]
        Replays the input set over about S seconds: webhooks, signed as
        each vendor signs them, from 4 senders, each request retried
        until it is answered 2xx (as vendors do: connection refused or
        cut, 5xx, Retry-After honoured up to 1 s); the vendor's records
        released into FILE (which fake_vendor.py reads on every request)
        in ten steps, in updated-at order; each import file run with the
        command given (its last word the file), again until it exits 0.
        Logs one JSON line per request that got its 2xx to --log.
        Exits 1 if a request was refused for good (4xx) or could not get
        a 2xx in 120 s.

Everything depends on --seed and --people only, so two runs on the same
plan give the same events, whatever faults happen in between.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

PUBLIC_URL = "https://hooks.example.com"  # the crm source's webhook.public_url
BASE_TIME = 1772323200  # 2026-03-01T00:00:00Z


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TIME + seconds))


# --------------------------------------------------------------------- plan

def person(i):
    return {
        "email": "p%03d@example.com" % i,
        "phone": "+86 138 %04d %04d" % (1000 + i, 2000 + i),
        "first": "First%d" % i,
        "last": "Last%d" % i,
        "openid": "oFaultTest%06d" % i,
        "hs_id": 5000 + i,
        "shop_id": 7000 + i,
        "handle": "fan_%d" % i,
    }


def shop_customer(p, at):
    return {"id": p["shop_id"], "admin_graphql_api_id": "gid://shopify/Customer/%d" % p["shop_id"],
            "email": p["email"].upper() if p["shop_id"] % 3 == 0 else p["email"],
            "phone": p["phone"], "first_name": p["first"], "last_name": p["last"],
            "created_at": at, "updated_at": at, "currency": "CNY",
            "default_address": {"country_code": "CN", "province_code": "ZJ", "phone": p["phone"]}}


def shop_order(p, oid, at, qty, unit):
    return {"id": oid, "admin_graphql_api_id": "gid://shopify/Order/%d" % oid,
            "name": "#%d" % (oid % 100000), "email": p["email"], "currency": "CNY",
            "total_price": "%d.00" % (qty * unit), "total_tax": "0.00",
            "total_discounts": "0.00", "source_name": "web", "created_at": at,
            "updated_at": at,
            "line_items": [{"id": oid + 1, "sku": "TEA-%02d" % (oid % 12),
                            "name": "Longjing tea", "quantity": qty, "price": "%d.00" % unit}],
            "customer": shop_customer(p, at)}


def hs_event(p, eid, at_ms, kind, prop=None, value=None):
    e = {"eventId": eid, "subscriptionId": 4242, "portalId": 62515, "appId": 1160452,
         "occurredAt": at_ms, "subscriptionType": kind, "objectId": p["hs_id"],
         "changeSource": "CRM", "attemptNumber": 0}
    if prop:
        e["propertyName"], e["propertyValue"] = prop, value
    return e


def wechat_xml(p, at, msgid, text):
    head = ("<xml><ToUserName><![CDATA[gh_fault_tea]]></ToUserName>"
            "<FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime>"
            % (p["openid"], BASE_TIME + at))
    if text:
        return head + ("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content>"
                       "<MsgId>%d</MsgId></xml>" % (text, msgid))
    return head + ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                   "<EventKey><![CDATA[qrscene_store%d]]></EventKey></xml>" % (msgid % 7))


def plan(args):
    rnd = random.Random(args.seed)
    people = [person(i) for i in range(args.people)]
    hooks, mentions, contacts, rows, exported = [], [], [], [], []
    eid = 900000
    for p in people:
        t = rnd.randrange(0, 86400)
        hooks.append({"source": "shop", "topic": "customers/create",
                      "body": shop_customer(p, iso(t))})
        for k in range(rnd.randrange(1, 4)):
            oid = 5800000000000 + p["shop_id"] * 10 + k
            at = t + 3600 * (k + 1)
            order = shop_order(p, oid, iso(at), rnd.randrange(1, 4), 38 + 20 * rnd.randrange(12))
            hooks.append({"source": "shop", "topic": "orders/create", "body": order})
            if rnd.random() < 0.3:  # a later version of the same order
                later = dict(order, updated_at=iso(at + 600), total_price="1.00")
                hooks.append({"source": "shop", "topic": "orders/updated", "body": later})
        batch = [hs_event(p, eid + 1, (BASE_TIME + t) * 1000, "contact.creation"),
                 hs_event(p, eid + 2, (BASE_TIME + t + 5) * 1000, "contact.propertyChange",
                          "email", p["email"]),
                 hs_event(p, eid + 3, (BASE_TIME + t + 9) * 1000, "contact.propertyChange",
                          "lifecyclestage", rnd.choice(["lead", "opportunity", "customer"]))]
        eid += 10
        hooks.append({"source": "crm", "body": batch[:rnd.randrange(1, 4)]})
        if rnd.random() < 0.5:
            hooks.append({"source": "crm", "body": [hs_event(
                p, eid, (BASE_TIME + t + 60) * 1000, "contact.propertyChange", "firstname",
                p["first"] + "-hs")]})
            eid += 1
        if p["hs_id"] % 5 == 0:  # a few: the reference maps each push on its own
            hooks.append({"source": "wechat", "xml": wechat_xml(p, t, eid, None)})
            for k in range(rnd.randrange(0, 3)):
                hooks.append({"source": "wechat",
                              "xml": wechat_xml(p, t + 30 + k, 24000000000 + eid + k,
                                                "消息 %d from %s" % (k, p["first"]))})
            eid += 5
        if p["hs_id"] % 3 != 1:  # HubSpot's own record, polled
            at = iso(86400 + t)
            contacts.append({"id": str(p["hs_id"]), "createdAt": at, "updatedAt": at,
                             "archived": False,
                             "properties": {"email": p["email"], "firstname": p["first"],
                                            "lastname": p["last"], "company": "Fault Tea Co.",
                                            "lifecyclestage": "customer",
                                            "hs_object_id": str(p["hs_id"]),
                                            "lastmodifieddate": at}})
        if p["hs_id"] % 4 != 3:  # the ERP's export
            rows.append([str(p["shop_id"]), "%s %s" % (p["first"], p["last"]),
                         p["email"], p["phone"], iso(2 * 86400 + t)])
        for k in range(rnd.randrange(1, 5)):
            m = {"id": "fm-%d-%d" % (p["hs_id"], k), "platform": "weibo",
                 "author_handle": p["handle"], "author_name": p["first"],
                 "author_followers": rnd.randrange(5000),
                 "text": rnd.choice(["great tea", "slow delivery", "好喝", "meh"]),
                 "url": "https://weibo.com/%s/%d" % (p["handle"], k),
                 "language": "en", "sentiment": rnd.choice([0.8, -0.6, 0.0, 0.4]),
                 "created_at": iso(3 * 86400 + t + k), "updated_at": iso(3 * 86400 + t + k)}
            (exported if rnd.random() < 0.25 else mentions).append(m)
    rnd.shuffle(hooks)
    mentions.sort(key=lambda m: (m["updated_at"], m["id"]))
    contacts.sort(key=lambda c: (c["updatedAt"], c["id"]))
    os.makedirs(args.dir, exist_ok=True)
    out = lambda name: open(os.path.join(args.dir, name), "w")
    with out("webhooks.jsonl") as f:
        for h in hooks:
            f.write(json.dumps(h, ensure_ascii=False) + "\n")
    with out("vendor.json") as f:
        json.dump({"mentions": mentions, "contacts": contacts}, f, ensure_ascii=False)
    # Two exports of each kind; the second CSV repeats some rows of the
    # first (a re-export), so their events are duplicates.
    half = len(rows) // 2
    for k, part in enumerate([rows[:half + 3], rows[half:]], 1):
        with out("customers-%d.csv" % k) as f:
            f.write("id,name,email,phone,updated\r\n")
            for r in part:
                f.write(",".join('"%s"' % v if "," in v or " " in v else v for v in r) + "\r\n")
    half = len(exported) // 2
    for k, part in enumerate([exported[:half], exported[half:]], 1):
        with out("mentions-%d.ndjson" % k) as f:
            for m in part:
                f.write(json.dumps(m, ensure_ascii=False) + "\n")
    write_map(args.dir, hooks, rows)


def write_map(d, hooks, rows):
    """map.sh CONFIG: prints the events the whole input set becomes."""
    by = lambda name: os.path.join(d, "map", name)
    os.makedirs(by(""), exist_ok=True)
    lines = ['#!/usr/bin/env bash', '# written by load.py plan: the expected events, one per line',
             'set -euo pipefail', 'H=${HUB360:?}; C=$1; cd "$(dirname "$0")/map"']
    topics = sorted({h["topic"] for h in hooks if h["source"] == "shop"})
    for t in topics:
        name = "shop-%s.ndjson" % t.replace("/", "-")
        with open(by(name), "w") as f:
            for h in hooks:
                if h.get("topic") == t:
                    f.write(json.dumps(h["body"]) + "\n")
        lines.append('"$H" map -c "$C" -s shop -H "X-Shopify-Topic: %s" --lines %s' % (t, name))
    with open(by("crm.ndjson"), "w") as f:
        for h in hooks:
            if h["source"] == "crm":
                f.write(json.dumps(h["body"]) + "\n")
    lines.append('"$H" map -c "$C" -s crm --lines crm.ndjson')
    n = 0
    for h in hooks:
        if h["source"] == "wechat":
            n += 1
            with open(by("wechat-%d.xml" % n), "w") as f:
                f.write(h["xml"])
    lines.append('for f in wechat-*.xml; do "$H" map -c "$C" -s wechat "$f"; done')
    with open(by("rows.ndjson"), "w") as f:  # the CSV rows as import reads them
        for r in rows:
            f.write(json.dumps(dict(zip(["id", "name", "email", "phone", "updated"], r))) + "\n")
    lines.append('"$H" map -c "$C" -s erpfile --via import --lines rows.ndjson')
    lines.append('jq -c ".mentions[]" ../vendor.json | "$H" map -c "$C" -s listen --via poll '
                 '-r mentions --lines -')
    lines.append('cat ../mentions-*.ndjson | "$H" map -c "$C" -s listen --via import --lines -')
    lines.append('jq -c ".contacts[]" ../vendor.json | "$H" map -c "$C" -s crm --via poll '
                 '-r contacts --lines -')
    with open(os.path.join(d, "map.sh"), "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------- send

class Sender:
    def __init__(self, args):
        self.url = urlsplit(args.url)
        self.secrets = json.loads(args.secrets)
        self.log = open(args.log, "a") if args.log else None
        self.lock = threading.Lock()
        self.failed = None
        self.retries = {}  # what made a request be sent again: status or "connection"

    def request(self, hook):
        """(path, headers, body bytes), signed now (HubSpot's v3 signature
        carries the time, so each attempt is signed afresh)."""
        src = hook["source"]
        if src == "shop":
            body = json.dumps(hook["body"]).encode()
            mac = hmac.new(self.secrets["shop"].encode(), body, hashlib.sha256).digest()
            return ("/ingest/shop", {"Content-Type": "application/json",
                                     "X-Shopify-Topic": hook["topic"],
                                     "X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode()}, body)
        if src == "crm":
            body = json.dumps(hook["body"]).encode()
            ts = str(int(time.time() * 1000))
            msg = b"POST" + (PUBLIC_URL + "/ingest/crm").encode() + body + ts.encode()
            mac = hmac.new(self.secrets["crm"].encode(), msg, hashlib.sha256).digest()
            return ("/ingest/crm", {"Content-Type": "application/json",
                                    "X-HubSpot-Request-Timestamp": ts,
                                    "X-HubSpot-Signature-v3": base64.b64encode(mac).decode()}, body)
        body = hook["xml"].encode()
        ts, nonce = str(int(time.time())), str(random.randrange(10**9))
        sig = hashlib.sha1("".join(sorted([self.secrets["wechat"], ts, nonce])).encode()).hexdigest()
        return ("/ingest/wechat?signature=%s&timestamp=%s&nonce=%s" % (sig, ts, nonce),
                {"Content-Type": "text/xml"}, body)

    def deliver(self, conn, i, hook):
        """Sends until 2xx; returns the connection to reuse."""
        deadline = time.monotonic() + 120
        attempts = 0
        while True:
            attempts += 1
            path, headers, body = self.request(hook)
            status, wait = None, 0.2
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                text = resp.read()
                status = resp.status
                if 200 <= status < 300:
                    with self.lock:
                        if self.log:
                            self.log.write(json.dumps({"i": i, "source": hook["source"],
                                                       "status": status,
                                                       "attempts": attempts}) + "\n")
                            self.log.flush()
                    return conn
                if status < 500 and status != 429:
                    raise SystemExit("request %d (%s): %d %s" % (i, hook["source"], status,
                                                                  text[:300].decode(errors="replace")))
                wait = min(float(resp.getheader("Retry-After") or 0.2), 1.0)
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                key = str(status or "connection")
                self.retries[key] = self.retries.get(key, 0) + 1
            if time.monotonic() > deadline:
                raise SystemExit("request %d (%s): no 2xx in 120 s (last: %s)"
                                 % (i, hook["source"], status))
            time.sleep(wait)

    def run(self, hooks, start, duration, first, step):
        conn = None
        try:
            for i in range(first, len(hooks), step):
                due = start + duration * i / len(hooks)
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                conn = self.deliver(conn, i, hooks[i])
        except SystemExit as e:
            self.failed = str(e)
        except Exception as e:  # noqa: BLE001 - reported, and the run fails
            self.failed = "sender: %r" % e


def release(records, path, fraction):
    """Writes the first `fraction` of each collection, in one rename."""
    part = {k: v[:int(len(v) * fraction + 0.999)] for k, v in records.items()}
    with open(path + ".new", "w") as f:
        json.dump(part, f, ensure_ascii=False)
    os.replace(path + ".new", path)


def run_import(cmd, path):
    deadline = time.monotonic() + 120
    while True:
        r = subprocess.run(cmd + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode == 0:
            return None
        if time.monotonic() > deadline:
            return "import %s: exit %d: %s" % (path, r.returncode, r.stderr[-500:])
        time.sleep(0.5)


def send(args):
    with open(os.path.join(args.dir, "webhooks.jsonl")) as f:
        hooks = [json.loads(line) for line in f]
    with open(os.path.join(args.dir, "vendor.json")) as f:
        records = json.load(f)
    imports = sorted(os.path.join(args.dir, n) for n in os.listdir(args.dir)
                     if n.endswith(".csv") or n.endswith(".ndjson"))
    s = Sender(args)
    start = time.monotonic()
    senders = [threading.Thread(target=s.run, args=(hooks, start, args.duration, k, 4))
               for k in range(4)]
    for t in senders:
        t.start()
    problems = []
    for step in range(1, 11):  # the vendor's records, and the imports between
        due = start + args.duration * (step - 1) / 10
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        release(records, args.records, step / 10)
        if step in (3, 7) and imports:
            for path in imports[: len(imports) // 2] if step == 3 else imports[len(imports) // 2:]:
                cmd = args.import_cmd.split()
                if path.endswith(".csv"):
                    cmd += ["--source", "erpfile"]
                else:
                    cmd += ["--source", "listen"]
                err = run_import(cmd, path)
                if err:
                    problems.append(err)
    for t in senders:
        t.join()
    if s.failed:
        problems.append(s.failed)
    again = ", ".join("%s %d" % kv for kv in sorted(s.retries.items())) or "none"
    print("sent %d webhooks (sent again after: %s), %d vendor records, %d imports in %.1f s"
          % (len(hooks), again, sum(len(v) for v in records.values()), len(imports),
             time.monotonic() - start), flush=True)
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--people", type=int, default=60)
    p.add_argument("dir")
    s = sub.add_parser("send")
    s.add_argument("--dir", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--records", required=True)
    s.add_argument("--secrets", required=True)
    s.add_argument("--duration", type=float, default=10)
    s.add_argument("--import", dest="import_cmd", required=True,
                   help="the import command without --source and the file")
    s.add_argument("--log")
    args = ap.parse_args()
    if args.cmd == "plan":
        plan(args)
        return 0
    return send(args)


if __name__ == "__main__":
    sys.exit(main())
