"""An e-mail with tracked links, sent through the queue to a real SMTP server, whose pixel
and links the tests then fetch through Odoo's HTTP server as a mail client does."""

from datetime import timedelta

from freezegun import freeze_time

from .common import warm_up_http_statics
from .mail_client import MailClientMixin
from .test_unsubscribe_http import HttpPolicyCommon

OFFER = "https://shop.example.com/offer?ref=mail"
TERMS = "https://shop.example.com/terms"
BODY = (
    "<p>Hello <t t-out='object.name'/>, see <a href='https://shop.example.com/offer?ref=mail'>our offer</a>"
    " and the <a href='https://shop.example.com/terms'>terms</a>.</p>"
    "<p><a href='mailto:sales@example.com'>Write</a>, <a href='tel:+48221234567'>call</a>,"
    " <a href='#top'>top</a>, <a href='https://lists.example.com/unsubscribe?u=1'>their list</a>.</p>"
)


class TrackingCommon(MailClientMixin, HttpPolicyCommon):
    """Consenting Polish and English contacts, a template with links, and `send()`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.grant(cls, cls.partner_pl | cls.partner_en)
        cls.template_links = cls._create_template(
            "res.partner", subject="Our offer", subject_pl="Nasza oferta", body=BODY, body_pl=BODY
        )

    def send(self, partner, category="marketing", ago=timedelta(minutes=10), template=None, **values):
        """Send the e-mail with links to `partner`, `ago` before the fetches that follow;
        return the scenario, the trace and the HTML that reached the SMTP server."""
        scenario = self.create_scenario(
            name=f"Offer {category}",
            category=category,
            steps=[
                {"name": "Offer", "trigger_type": "begin", "mail_template_id": (template or self.template_links).id}
            ],
            **values,
        )
        # `ago` before the time the server stamps on the signals this test's fetches send.
        with freeze_time(self.received_now() - ago):
            scenario._enrol(partner.ids)
            self.run_queue()
        (message,) = self.assertSentTo(partner.email)
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.state, "sent")
        return scenario, trace, self.html_of(message)
