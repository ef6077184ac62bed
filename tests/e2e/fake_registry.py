#!/usr/bin/env python3
"""A stand-in for a Confluent Schema Registry, for hub360's tests.

Serves the two calls hub360 makes: POST /subjects/{subject}/versions
(register, returning the same id for the same schema) and GET
/schemas/ids/{id}. Ids start at 100 so they cannot be mistaken for
hub360's local ones. Prints "port N" once listening; appends every
request to the log file named on the command line (one JSON per line).
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

log_path = sys.argv[1]
lock = threading.Lock()
ids = {}      # schema text -> id
schemas = {}  # id -> schema text


class Registry(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, entry):
        with lock, open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_POST(self):
        parts = self.path.split("/")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(parts) != 4 or parts[1] != "subjects" or parts[3] != "versions":
            return self.reply(404, {"error_code": 404, "message": "not found"})
        schema = body["schema"]
        json.loads(schema)  # a registry rejects what is not JSON
        with lock:
            sid = ids.setdefault(schema, 100 + len(ids))
            schemas[sid] = schema
        self.record({"op": "register", "subject": unquote(parts[2]),
                     "content_type": self.headers.get("Content-Type"),
                     "schema": schema, "id": sid})
        self.reply(200, {"id": sid})

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) == 4 and parts[1] == "schemas" and parts[2] == "ids":
            sid = int(parts[3])
            self.record({"op": "fetch", "id": sid})
            if sid in schemas:
                return self.reply(200, {"schema": schemas[sid]})
            return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
        self.reply(404, {"error_code": 404, "message": "not found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
print("port", server.server_address[1], flush=True)
server.serve_forever()
