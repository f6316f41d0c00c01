"""The first look, as a newcomer has it: tools/run.sh on a fresh database, then a quotation
confirmed through Odoo's API, and the automated e-mail read back from the mail catcher.

Run by tools/test.sh. Starts tools/run.sh in a process group of its own on free ports and
a throw-away database, and stops the group and drops the database whatever happens.
Standard library only: it runs with the system Python, outside Odoo's virtualenv.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 900  # a fresh database with demo data and Polish, on a busy 2-core machine
MAIL_TIMEOUT = 60  # the queue is woken at commit: seconds, not the 5-minute cron interval


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what, check, timeout, process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tools/run.sh ended (exit {process.returncode}) before {what}")
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout} s")


def http_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


def odoo_up(url):
    try:
        with urllib.request.urlopen(f"{url}/web/login", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def confirm_a_quotation(url, db, password):
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, "admin", password, {})
    assert uid, "admin could not log in with the password tools/run.sh printed"
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return models.execute_kw(db, uid, password, model, method, list(args), kwargs)

    email = f"first.look.{os.getpid()}@example.com"
    partner_id = call("res.partner", "create", {"name": "Anna Nowak", "email": email, "lang": "pl_PL"})
    product_id = call("product.product", "search", [("sale_ok", "=", True)], limit=1)[0]
    order_id = call(
        "sale.order",
        "create",
        {"partner_id": partner_id, "order_line": [(0, 0, {"product_id": product_id, "product_uom_qty": 2})]},
    )
    (order,) = call("sale.order", "read", [order_id], fields=["name"])
    call("sale.order", "action_confirm", [order_id])
    return email, order["name"], time.monotonic()


def main():
    db = f"cea_first_look_{os.getpid()}"
    port, smtp_port, mail_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        CEA_DB=db,
        CEA_RESET="1",
        CEA_PORT=str(port),
        CEA_MAIL_SMTP_PORT=str(smtp_port),
        CEA_MAIL_HTTP_PORT=str(mail_port),
        CEA_ADMIN_PASSWORD="first-look",
    )
    log_path = Path(os.environ.get("CEA_FIRST_LOOK_LOG", f"/tmp/{db}.log"))
    url, mail_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mail_port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(ROOT / "tools" / "run.sh")], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for("Odoo answering", lambda: odoo_up(url), START_TIMEOUT, process)
        printed = log_path.read_text()
        assert f"mail catcher: {mail_url}" in printed, "tools/run.sh did not print the mail catcher's URL"
        assert http_json(f"{mail_url}/messages/") is not None, "the mail catcher does not answer"

        email, order_name, confirmed_at = confirm_a_quotation(url, db, env["CEA_ADMIN_PASSWORD"])

        def mails_to(address):
            listing = http_json(f"{mail_url}/messages/") or {}
            return [m for m in listing.get("messages", []) if address in json.dumps(m["recipients"])]

        def the_mail():
            return next((m for m in mails_to(email) if order_name in m["subject"]), None)

        wait_for(f"order e-mail naming {order_name} in the mail catcher", the_mail, MAIL_TIMEOUT, process)
        seconds = time.monotonic() - confirmed_at
        print(f"first look: the e-mail for {order_name} was in the mail catcher {seconds:.2f} s after confirming it")
        # The new contact got the demo's welcome e-mail too (a service message: no consent needed).
        wait_for("the welcome e-mail to the new contact", lambda: len(mails_to(email)) >= 2, MAIL_TIMEOUT, process)
    except AssertionError as error:
        print(f"first look: FAILED: {error} (log: {log_path})")
        print(log_path.read_text()[-3000:])
        return 1
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        subprocess.run(["dropdb", "--if-exists", db], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
