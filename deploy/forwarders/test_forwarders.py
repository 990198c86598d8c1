# Check both forwarders against a local HTTP server standing in for ferry:
#   python3 deploy/forwarders/test_forwarders.py
# Each must POST the trigger event unchanged with the Bearer token, and raise on a non-2xx.
import http.server
import json
import os
import sys
import threading
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cos_scf_forwarder  # noqa: E402
import oss_fc_forwarder  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "data",
                    "events")
got = []
status = [202]


class Ferry(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        got.append((self.path, self.headers["Authorization"], self.rfile.read(n)))
        self.send_response(status[0])
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"queued":1,"ignored":0,"duplicate":0}')

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Ferry)
threading.Thread(target=srv.serve_forever, daemon=True).start()
os.environ["FERRY_EVENTS_URL"] = "http://127.0.0.1:%d/v1/tasks/t1/events" % srv.server_port
os.environ["FERRY_API_TOKEN"] = "tok123"

cos = json.load(open(os.path.join(DATA, "cos-scf-put.json")))
cos_scf_forwarder.main_handler(cos, None)
assert got[-1][0] == "/v1/tasks/t1/events", got[-1]
assert got[-1][1] == "Bearer tok123"
assert json.loads(got[-1][2]) == cos

raw = open(os.path.join(DATA, "oss-fc-put.json"), "rb").read()
oss_fc_forwarder.handler(raw, None)
assert got[-1][1] == "Bearer tok123"
assert got[-1][2] == raw  # byte for byte

status[0] = 503
for call in (lambda: cos_scf_forwarder.main_handler(cos, None),
             lambda: oss_fc_forwarder.handler(raw, None)):
    try:
        call()
        raise SystemExit("FAIL: a 503 did not raise (the provider would not retry)")
    except urllib.error.HTTPError as e:
        assert e.code == 503
srv.shutdown()
print("forwarders: ok")
