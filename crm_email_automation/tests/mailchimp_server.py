"""A local Mailchimp Marketing API 3.0 (audience members) on 127.0.0.1, for the tests.

It checks the API key (HTTP basic password) or the OAuth2 token (bearer) and the member hash
rule, keeps the members it receives and records every request; `script` answers the next
member PUTs with errors (status, problem document, delay) to exercise the error classes.
It also plays login.mailchimp.com's OAuth2 endpoints (authorize, token, metadata).
"""

import base64
import hashlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}


def problem(status, title, detail):
    return status, {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title,
                    "status": status, "detail": detail, "instance": "00000000-0000-0000-0000-000000000000"}  # fmt: skip


class MailchimpServer:
    def __init__(self, api_key="0123456789abcdef0123456789abcdef-us6", lists=None):
        self.api_key = api_key
        self.lists = lists or {"a1b2c3d4e5": "Newsletter"}
        self.members = {}  # (list_id, hash) -> member
        self.deleted_permanently = set()  # (list_id, hash): Mailchimp refuses to add them again
        self.requests = []  # dicts: method, path, user, password, body
        self.script = []  # next member PUT answers: (status, payload) or ("slow", seconds)
        self.oauth = {
            "client_id": "odoo-app-1234",
            "client_secret": "app-secret-5678",
            "code": "code-9abc",
            "token": "oauth-token-def0",
        }
        self.authorized_redirect_uri = None
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/3.0"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def clear(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()

    def member_puts(self):
        with self.lock:
            return [r for r in self.requests if r["method"] == "PUT"]

    # ------------------------------------------------------------------

    def _answer(self, method, path, user, password, body, bearer=None):
        """(status, payload) for a request; the API's documented behaviour."""
        if password != self.api_key and (not bearer or bearer != self.oauth["token"]):
            detail = "Your API key may be invalid, or you've attempted to access the wrong datacenter."
            return problem(401, "API Key Invalid", detail)
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:1] != ["3.0"]:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        parts = parts[1:]
        if method == "GET" and parts == ["ping"]:
            return 200, {"health_status": "Everything's Chimpy!"}
        if len(parts) >= 2 and parts[0] == "lists" and parts[1] not in self.lists:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        if method == "GET" and len(parts) == 2 and parts[0] == "lists":
            return 200, {"id": parts[1], "name": self.lists[parts[1]]}
        if method == "PUT" and len(parts) == 4 and parts[0] == "lists" and parts[2] == "members":
            return self._put_member(parts[1], parts[3], body)
        member_path = len(parts) >= 4 and parts[0] == "lists" and parts[2] == "members"
        if member_path and method == "DELETE" and len(parts) == 4:
            return self._delete_member(parts[1], parts[3], permanent=False)
        if member_path and method == "POST" and parts[4:] == ["actions", "delete-permanent"]:
            return self._delete_member(parts[1], parts[3], permanent=True)
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def _put_member(self, list_id, member_hash, body):
        with self.lock:
            scripted = self.script.pop(0) if self.script else None
        if scripted and scripted[0] == "slow":
            time.sleep(scripted[1])
        elif scripted:
            return scripted
        if not isinstance(body, dict) or not body.get("email_address"):
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        if hashlib.md5(body["email_address"].lower().encode()).hexdigest() != member_hash:  # noqa: S324
            return problem(400, "Invalid Resource", "The subscriber hash does not match the email address.")
        if (list_id, member_hash) in self.deleted_permanently:
            detail = f"{body['email_address']} was permanently deleted and cannot be re-imported."
            return problem(400, "Forgotten Email Not Subscribed", detail)
        if body.get("status") not in STATUSES or body.get("status_if_new") not in STATUSES:
            return problem(400, "Invalid Resource", "Invalid status.")
        member = {
            "id": member_hash,
            "email_address": body["email_address"],
            "status": body["status"],
            "merge_fields": body.get("merge_fields", {}),
            "list_id": list_id,
        }
        with self.lock:
            self.members[list_id, member_hash] = member
        return 200, member

    def _delete_member(self, list_id, member_hash, permanent):
        """Archive (DELETE) or permanently delete a member: 204, or 404 if unknown."""
        with self.lock:
            scripted = self.script.pop(0) if self.script else None
            if scripted and scripted[0] != "slow":
                return scripted
            member = self.members.pop((list_id, member_hash), None)
            if member and permanent:
                self.deleted_permanently.add((list_id, member_hash))
        if not member:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        return 204, None

    def member_deletes(self):
        with self.lock:
            return [r for r in self.requests if r["method"] in ("DELETE", "POST") and "/members/" in r["path"]]

    def _oauth(self, method, path, scheme, credential, raw):
        """login.mailchimp.com: (status, payload, headers)."""
        url = urlsplit(path)
        oauth = self.oauth
        if method == "GET" and url.path == "/oauth2/authorize":
            # The administrator logs in and allows the app: straight back with a code.
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if query.get("response_type") != "code" or query.get("client_id") != oauth["client_id"]:
                return 400, {"error": "invalid_client"}, {}
            self.authorized_redirect_uri = query["redirect_uri"]
            location = query["redirect_uri"] + "?" + urlencode({"code": oauth["code"], "state": query.get("state", "")})
            return 302, {}, {"Location": location}
        if method == "POST" and url.path == "/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("client_id") != oauth["client_id"] or form.get("client_secret") != oauth["client_secret"]:
                return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}, {}
            if (
                form.get("grant_type") != "authorization_code"
                or form.get("code") != oauth["code"]
                or form.get("redirect_uri") != self.authorized_redirect_uri
            ):
                return 400, {"error": "invalid_grant", "error_description": "Invalid authorization code"}, {}
            return 200, {"access_token": oauth["token"], "expires_in": 0, "scope": None}, {}
        if method == "GET" and url.path == "/oauth2/metadata":
            if scheme != "OAuth" or credential != oauth["token"]:
                return 401, {"error": "invalid_token"}, {}
            endpoint = self.base_url.removesuffix("/3.0")
            return 200, {"dc": "us6", "accountname": "Acme Sp. z o.o.", "api_endpoint": endpoint}, {}
        return 404, {"error": "not_found"}, {}

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                user = password = None
                auth = self.headers.get("Authorization") or ""
                if auth.startswith("Basic "):
                    user, _sep, password = base64.b64decode(auth[6:]).decode().partition(":")
                scheme, _sep, credential = auth.partition(" ")
                with server.lock:
                    server.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "user": user,
                            "password": password,
                            "authorization": auth,
                            "body": body,
                        }
                    )
                headers = {}
                if self.path.startswith("/oauth2/"):
                    status, payload, headers = server._oauth(self.command, self.path, scheme, credential, raw)
                else:
                    bearer = credential if scheme == "Bearer" else None
                    status, payload = server._answer(self.command, self.path, user, password, body, bearer)
                data = json.dumps(payload).encode() if payload is not None else b""
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    content_type = "application/problem+json" if status >= 400 else "application/json"
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up waiting (timeout tests)

            do_GET = do_PUT = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's handler names

            def log_message(self, format, *args):
                pass

        return Handler


class capture_logs:  # noqa: N801 - used like assertLogs
    """Every log record of Odoo, requests/urllib3 and the HTTP server, whatever the configured
    levels: the tests check that no secret is among them."""

    LOGGERS = ("odoo", "urllib3", "requests", "werkzeug")
    # Odoo's --log-sql debug output prints every written value, passwords included: a
    # developer switch, not a log the module controls.
    QUIET = ("odoo.sql_db",)

    def __enter__(self):
        self.records = []
        self.handler = logging.Handler(logging.DEBUG)
        self.handler.emit = self.records.append
        self.levels = {}
        root = logging.getLogger()
        root.addHandler(self.handler)
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self.levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
        for name in self.QUIET:
            logger = logging.getLogger(name)
            self.levels[name] = logger.level
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc_info):
        logging.getLogger().removeHandler(self.handler)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)

    @property
    def output(self):
        return "\n".join(record.getMessage() for record in self.records)
