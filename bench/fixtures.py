"""Data of the benchmark: mail server, contacts, templates, scenarios, orders; and the
cleaning between measurements. Everything is created in the bench database only."""

import time
from contextlib import closing

EMAIL_FROM = "Bench Sender <bench.sender@example.com>"
SUBJECT = "Your offer is ready, {{ object.name }}"
# One body for both senders: our mail.template and the mass mailing render the same QWeb.
BODY = """<div style="margin: 0px; padding: 0px; font-size: 14px;">
    <p>Hello <t t-out="object.name or ''">Contact</t>,</p>
    <p>Thank you for your interest in our products. We prepared an offer for you and
    we will be happy to answer any question about it.</p>
    <p>We will write to you at <t t-out="object.email or ''">address</t>; reply to this
    e-mail to reach your account manager directly.</p>
    <p>Best regards,<br/>The Bench Company team</p>
</div>"""
ORDER_SUBJECT = "Order {{ object.name }} confirmed"
ORDER_BODY = """<div>
    <p>Hello <t t-out="object.partner_id.name or ''">Customer</t>,</p>
    <p>Your order <t t-out="object.name or ''">S00001</t> amounting to
    <t t-out="object.amount_total">0</t> is confirmed.</p>
</div>"""

# Participants of the scaling measurement that stand for records not due yet: their
# res_id is far above any real record's.
DUMMY_RES_ID_BASE = 1_000_000_000


def setup_mail_server(env, port):
    """The local SMTP sink as the only outgoing mail server."""
    env["ir.mail_server"].search([]).write({"active": False})
    server = env["ir.mail_server"].create(
        {
            "name": "Bench SMTP sink",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_encryption": "none",
            "smtp_authentication": "login",
            "sequence": 1,
        }
    )
    env.company.write({"email": "bench.sender@example.com", "name": "Bench Company"})
    return server


def create_contacts(env, count, tag_name, batch=2000):
    """`count` contacts with distinct addresses, all tagged `tag_name` (the mailing's segment)."""
    tag = env["res.partner.category"].create({"name": tag_name})
    partners = env["res.partner"]
    slug = tag_name.lower().replace(" ", "-")
    for start in range(0, count, batch):
        partners |= env["res.partner"].create(
            [
                {
                    "name": f"Bench Contact {slug} {i:06d}",
                    "email": f"{slug}.{i:06d}@bench.example.com",
                    "lang": "en_US",
                    "category_id": [(6, 0, tag.ids)],
                }
                for i in range(start, min(start + batch, count))
            ]
        )
        env.cr.commit()
    return tag, partners


def create_template(env, model, name, subject, body):
    return env["mail.template"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id(model),
            "subject": subject,
            "email_from": EMAIL_FROM,
            "body_html": body,
            "auto_delete": False,
        }
    )


def create_scenario(env, model, template, name, server=None, **values):
    """A running scenario with one e-mail step sending `template` at once."""
    scenario = env["email.automation.scenario"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id(model),
            "category": "transactional",
            "trigger": "manual",
            "mail_server_id": server.id if server else False,
            "step_ids": [
                (
                    0,
                    0,
                    {
                        "name": f"{name}: e-mail",
                        "trigger_type": "begin",
                        "delay": 0,
                        "action_type": "mail",
                        "mail_template_id": template.id,
                    },
                )
            ],
            **values,
        }
    )
    scenario.action_start()
    return scenario


def create_mailing(env, tag, server, name):
    """A mass mailing sending the same subject and body to the contacts tagged `tag`."""
    return env["mailing.mailing"].create(
        {
            "subject": SUBJECT,
            "body_arch": BODY,
            "body_html": BODY,
            "mailing_type": "mail",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("category_id", "in", tag.ids)]),
            "email_from": EMAIL_FROM,
            "mail_server_id": server.id,
        }
    )


def create_product(env):
    return env["product.product"].create({"name": "Bench product", "list_price": 100.0, "sale_ok": True})


def create_orders(env, partners, product, count, batch=250):
    """`count` quotations with one line each, for the contacts `partners` in turn."""
    orders = env["sale.order"]
    for start in range(0, count, batch):
        orders |= env["sale.order"].create(
            [
                {
                    "partner_id": partners[i % len(partners)].id,
                    "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1 + i % 3})],
                }
                for i in range(start, min(start + batch, count))
            ]
        )
        env.cr.commit()
    return orders


# ----------------------------------------------------------------------
# Cleaning between measurements
# ----------------------------------------------------------------------

CLEANED_TABLES = (
    "email_automation_participant",
    "email_automation_trace",
    "email_automation_enrolment",
    "mail_mail",
    "mailing_trace",
    "mail_message",
    "mail_notification",
    "mail_message_res_partner_rel",
    "mail_followers",
)


def message_floor(env):
    """The last mail.message id: messages above it were written by the measurements."""
    env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM mail_message")
    return env.cr.fetchone()[0]


def clean_mail_data(env, floor):
    """Forget what a measurement left: participants and traces, queued or kept mails,
    mailing traces and the messages logged since `floor`."""
    env.flush_all()
    cr = env.cr
    cr.execute("DELETE FROM email_automation_participant")  # cascades to the traces
    cr.execute("DELETE FROM email_automation_enrolment")
    cr.execute("DELETE FROM mail_mail")
    cr.execute("DELETE FROM mailing_trace")
    cr.execute("DELETE FROM mail_message WHERE id > %s", (floor,))
    cr.commit()
    env.invalidate_all()
    vacuum(env, CLEANED_TABLES)


def vacuum(env, tables):
    """VACUUM ANALYZE `tables` (outside any transaction, on a connection of its own), so that
    every measurement starts with fresh statistics and no dead rows from the previous one."""
    import odoo  # noqa: PLC0415

    db = odoo.sql_db.db_connect(env.cr.dbname)
    with closing(db.cursor()) as cr:
        cr._cnx.autocommit = True  # VACUUM cannot run inside a transaction
        try:
            for table in tables:
                cr.execute(odoo.tools.SQL("VACUUM ANALYZE %s", odoo.tools.SQL.identifier(table)))
        finally:
            # The connection goes back to Odoo's pool: it must open transactions again.
            cr._cnx.autocommit = False


def add_future_traces(env, scenario, count, days_ahead=30):
    """Queue `count` traces of `scenario` due in `days_ahead` days, on dummy participants,
    with two INSERT ... SELECT generate_series (seconds for 100,000 rows)."""
    step = scenario.step_ids[:1]
    cr = env.cr
    env.flush_all()
    cr.execute(
        """
        INSERT INTO email_automation_participant
               (scenario_id, company_id, res_model, res_id, state, enrolled_at,
                create_uid, create_date, write_uid, write_date)
        SELECT %(scenario)s, %(company)s, %(model)s, %(base)s + g, 'running', now_utc,
               %(uid)s, now_utc, %(uid)s, now_utc
          FROM generate_series(1, %(count)s) g, (SELECT now() AT TIME ZONE 'UTC' AS now_utc) n
        """,
        {
            "scenario": scenario.id,
            "company": scenario.company_id.id,
            "model": scenario.model_name,
            "base": DUMMY_RES_ID_BASE,
            "count": count,
            "uid": env.uid,
        },
    )
    cr.execute(
        """
        INSERT INTO email_automation_trace
               (participant_id, step_id, scenario_id, company_id, state, scheduled_at, attempt_count,
                create_uid, create_date, write_uid, write_date)
        SELECT p.id, %(step)s, p.scenario_id, p.company_id, 'scheduled',
               p.enrolled_at + make_interval(days => %(days)s), 0,
               %(uid)s, p.create_date, %(uid)s, p.create_date
          FROM email_automation_participant p
         WHERE p.scenario_id = %(scenario)s AND p.res_id > %(base)s
        """,
        {"step": step.id, "scenario": scenario.id, "base": DUMMY_RES_ID_BASE, "days": days_ahead, "uid": env.uid},
    )
    inserted = cr.rowcount
    cr.commit()
    env.invalidate_all()
    vacuum(env, ("email_automation_participant", "email_automation_trace"))
    return inserted


def trace_states(env, scenario_ids=None):
    """{state: count} of the traces (of `scenario_ids` if given)."""
    domain = [("scenario_id", "in", scenario_ids)] if scenario_ids else []
    return dict(env["email.automation.trace"]._read_group(domain, ["state"], ["__count"]))


def record_intake(env):
    """Record what the HTTP routes left in the intake, as the intake's cron job does after
    their commit (the bench servers run no cron). Returns (signals recorded, seconds)."""
    env.cr.commit()  # a new snapshot: the server wrote the rows since this transaction began
    started = time.perf_counter()
    received = 0
    while counts := env["email.automation.intake"]._record(auto_commit=True):
        if counts["failed"]:
            raise SystemExit(f"the intake failed to record {counts['failed']} signal(s)")
        received += counts["received"]
    seconds = time.perf_counter() - started
    env.invalidate_all()
    return received, seconds
