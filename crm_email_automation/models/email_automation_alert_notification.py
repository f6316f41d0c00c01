from markupsafe import Markup

from odoo import models


class EmailAutomationAlert(models.Model):
    """How the automation managers hear of an alert: a note in the chatter of the scenario or
    provider that e-mails them (or, for managers who chose so, notifies them in Odoo), and a
    to-do activity each on that record. The recovery notice goes the same way and closes
    the activities."""

    _inherit = "email.automation.alert"  # pylint: disable=consider-merging-classes-inherited

    def _managers(self):
        # sudo: group membership is read for the notification only.
        return (
            self.env.ref("crm_email_automation.group_manager").sudo().users.filtered(lambda u: u.active and not u.share)
        )

    def _author(self):
        # OdooBot speaks for the module; with notify_author, the manager whose action paused a
        # provider is told too (Odoo takes the current user for the author otherwise).
        return self.env.ref("base.partner_root")

    def _subject_record(self):
        """The record whose chatter hears of the alert: its scenario, else its provider."""
        return self.scenario_id or self.provider_id

    def _in_language(self):
        """This alert in the language of its company (else the cron's): notes are read by all."""
        company = self.company_id or self.env.company
        return self.with_context(lang=company.partner_id.lang or self.env.lang)

    def _describe(self):
        """What happened, in one sentence or two."""
        self.ensure_one()
        scenario, provider = self.scenario_id.display_name, self.provider_id.display_name
        value, threshold = format(self.value, ".2f"), format(self.threshold, "g")
        if self.kind == "queue_lag":
            return self.env._(
                "The sending queue is late: an e-mail due now has waited %(minutes)s minutes (threshold: "
                "%(threshold)s minutes). Check that the scheduled action “E-mail Automation: process the queue” runs.",
                minutes=value,
                threshold=threshold,
            )
        if self.kind == "failure_rate":
            return self.env._(
                "%(rate)s%% of the %(count)s e-mails of scenario “%(scenario)s” processed lately failed "
                "(threshold: %(threshold)s%%). See the failed e-mails for the reason.",
                rate=value,
                count=self.sample_size,
                scenario=scenario,
                threshold=threshold,
            )
        if self.kind == "provider_paused":
            return self.env._(
                "Delivery provider “%(provider)s” is paused: its e-mails wait in the queue until it is resumed. "
                "%(reason)s",
                provider=provider,
                reason=self.provider_id.pause_reason or "",
            )
        # Whole sentences, not pieces: Polish does not build them in the same order.
        if self.kind == "bounce_rate":
            text = self.env._(
                "%(rate)s%% of the last %(count)s e-mails sent through “%(provider)s” bounced (threshold: "
                "%(threshold)s%%, the mailbox providers' rule for bulk senders).",
                rate=value,
                count=self.sample_size,
                provider=provider,
                threshold=threshold,
            )
        else:
            text = self.env._(
                "%(rate)s%% of the last %(count)s e-mails sent through “%(provider)s” were reported as spam "
                "(threshold: %(threshold)s%%, the mailbox providers' rule for bulk senders).",
                rate=value,
                count=self.sample_size,
                provider=provider,
                threshold=threshold,
            )
        if self.paused_scenario_ids:
            text += " " + self.env._(
                "Its marketing scenarios are paused: %(scenarios)s. Clean the contact lists, then start them again.",
                scenarios=", ".join(self.paused_scenario_ids.mapped("display_name")),
            )
        return text

    def _notify_open(self):
        self.ensure_one()
        alert = self._in_language()
        managers = self._managers()
        subject = alert.env._("E-mail automation alert: %(alert)s", alert=alert.display_name)
        summary = alert._describe()
        record = self._subject_record()
        if not record:
            return
        record.message_post(
            body=Markup("<p><strong>%s</strong></p><p>%s</p>") % (subject, summary),
            subject=subject,
            author_id=self._author().id,
            notify_author=True,
            partner_ids=managers.partner_id.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )
        # The note above e-mails them: the activities do not notify a second time.
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        model_id = self.env["ir.model"]._get_id(record._name)
        self.activity_ids = (
            self.env["mail.activity"]
            .with_context(mail_activity_quick_update=True)
            .create(
                [
                    {
                        "res_model_id": model_id,
                        "res_id": record.id,
                        "activity_type_id": activity_type.id,
                        "user_id": manager.id,
                        "summary": subject[:200],
                        "note": Markup("<p>%s</p>") % summary,
                    }
                    for manager in managers
                ]
            )
        )

    def _notify_recovery(self):
        self.ensure_one()
        alert = self._in_language()
        record = self._subject_record()
        if not record:
            return
        subject = alert.env._("E-mail automation recovered: %(alert)s", alert=alert.display_name)
        if self.kind in ("provider_paused",):
            text = alert.env._("The provider is active again: the waiting e-mails are being sent.")
        else:
            text = alert.env._(
                "Back under the threshold: %(value)s (threshold: %(threshold)s).",
                value=format(self.last_value, ".2f"),
                threshold=format(self.threshold, "g"),
            )
        if self.paused_scenario_ids.filtered(lambda s: s.state == "paused"):
            text += " " + alert.env._("The scenarios paused by this alert stay paused until someone starts them again.")
        record.message_post(
            body=Markup("<p><strong>%s</strong></p><p>%s</p>") % (subject, text),
            subject=subject,
            author_id=self._author().id,
            notify_author=True,
            partner_ids=self._managers().partner_id.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )
