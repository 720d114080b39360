#!/usr/bin/env python3
"""The demo's webhook receiver: it checks each Trailkeeper alert as a real receiver should
(HMAC-SHA256 signature over "timestamp.body", a timestamp no older than five minutes, one copy
per delivery id), keeps the messages in a JSON Lines file, and shows them on a page."""

import argparse
import hashlib
import hmac
import html
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300


def verify(key: bytes, header: str, body: bytes, now: float) -> str | None:
    """None when the signature holds, else why not."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields:
        return "no Trailkeeper-Signature header"
    try:
        timestamp = int(fields["t"])
    except ValueError:
        return "the signature's timestamp is not a number"
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return "the signature is too old (a replay?)"
    expected = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        return "the signature does not match the signing key"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.key_file, encoding="utf-8") as file:
        key = file.read().strip().encode()
    seen = set()
    try:
        with open(args.log, encoding="utf-8") as file:
            seen = {json.loads(line)["delivery_id"] for line in file if line.strip()}
    except FileNotFoundError:
        pass

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass

        def answer(self, status: int, body: str, kind: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/hook":
                return self.answer(404, "not here\n")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            refused = verify(key, self.headers.get("Trailkeeper-Signature", ""), body, time.time())
            if refused:
                return self.answer(401, refused + "\n")
            delivery = self.headers.get("Trailkeeper-Delivery", "")
            if delivery in seen:
                return self.answer(200, "already had it\n")
            seen.add(delivery)
            with open(args.log, "a", encoding="utf-8") as file:
                file.write(json.dumps({"delivery_id": delivery, "received_at": time.time(),
                                       "message": json.loads(body)}) + "\n")
            self.answer(200, "received\n")

        def do_GET(self) -> None:
            if self.path != "/":
                return self.answer(404, "not here\n")
            try:
                with open(args.log, encoding="utf-8") as file:
                    received = [json.loads(line) for line in file if line.strip()]
            except FileNotFoundError:
                received = []
            rows = []
            for entry in reversed(received):
                message = entry["message"]
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["received_at"]))
                alerts = "".join(
                    f'<li><b>{html.escape(alert["severity"])}</b> '
                    f'<a href="{html.escape(alert["url"])}">{html.escape(alert["title"])}</a>'
                    f' ({html.escape(alert["reason"])})<br>{html.escape(alert["explanation"])}</li>'
                    for alert in message.get("alerts", []))
                rows.append(f"<tr><td>{when}</td><td>{html.escape(message['type'])}</td>"
                            f"<td><ul>{alerts}</ul></td>"
                            f"<td><code>{html.escape(entry['delivery_id'])}</code></td></tr>")
            page = ("<!doctype html><meta charset=utf-8><title>Demo webhook receiver</title>"
                    "<meta http-equiv=refresh content=10>"
                    "<h1>Alerts received from Trailkeeper</h1>"
                    f"<p>{len(received)} messages, each signature checked.</p>"
                    "<table border=1 cellpadding=4><tr><th>received</th><th>type</th>"
                    "<th>alerts</th><th>delivery id</th></tr>" + "".join(rows) + "</table>")
            self.answer(200, page, "text/html")

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
